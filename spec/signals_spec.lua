-- Long waits of the library give control back on a signal (#10.4): a plain script's Ctrl-C ends a 30 s poll
-- wait at once (the interpreter's own handler raises "interrupted!"), and with usage.trap_signals() every
-- wait and transfer ends with err.code "interrupted" so the program can stop cleanly.
local H = require "helper"
local nginx = require "support.nginx"
local fakecloud = require "fakecloud"

local INTERP = fakecloud.interpreter
local REPO = fakecloud.repo

-- start `source` (Lua) in a child interpreter; returns a handle with pid, wait(seconds) -> exit code, out, err
local function spawn(source, env)
  local dir = nginx.temp_dir("usage-signals")
  nginx.write_file(dir .. "/child.lua", [[
local fh = io.open(]] .. string.format("%q", dir .. "/pid") .. [[, "w")
fh:write((io.open("/proc/self/stat"):read("*l"):match("^(%d+)")))
fh:close()
]] .. source)
  local cmd = string.format("cd %s && (LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;spec/?/init.lua;;' " ..
    "LUA_CPATH='build/%s/?.so;;' %s %s >%s 2>%s; echo $? >%s) >/dev/null 2>&1 &",
    nginx.sh_quote(REPO), INTERP, INTERP, nginx.sh_quote(dir .. "/child.lua"), nginx.sh_quote(dir .. "/out"),
    nginx.sh_quote(dir .. "/err"), nginx.sh_quote(dir .. "/code"))
  if env then cmd = env .. " " .. cmd end
  assert(nginx.run(cmd))
  local h = { dir = dir }
  for _ = 1, 500 do
    h.pid = tonumber(nginx.read_file(dir .. "/pid") or "")
    if h.pid then break end
    nginx.sleep(0.02)
  end
  assert(h.pid, "the child did not start: " .. tostring(nginx.read_file(dir .. "/err")))
  function h.wait(seconds)
    local deadline = nginx.now() + seconds
    repeat
      local code = tonumber(nginx.read_file(dir .. "/code") or "")
      if code then return code, nginx.read_file(dir .. "/out") or "", nginx.read_file(dir .. "/err") or "" end
      nginx.sleep(0.05)
    until nginx.now() > deadline
    return nil, nginx.read_file(dir .. "/out") or "", nginx.read_file(dir .. "/err") or ""
  end
  function h.ready(marker, seconds) -- wait until the child printed marker on stdout
    local deadline = nginx.now() + seconds
    repeat
      if (nginx.read_file(dir .. "/out") or ""):find(marker, 1, true) then return true end
      nginx.sleep(0.05)
    until nginx.now() > deadline
    return false
  end
  function h.stop()
    nginx.stop_pid(h.pid, 1)
    nginx.remove_dir(dir)
  end
  return h
end

describe("signals", function()
  local fake

  setup(function()
    fake = H.start()
  end)

  teardown(function()
    if fake then fake:stop() end
  end)

  before_each(function()
    fake:reset()
    fake:config { lifecycle = { seconds = 3600 } } -- the query never completes
  end)

  local function client_source(extra)
    return [[
local usage = require "usage"
]] .. (extra or "") .. [[
local c = usage.new { base_url = ]] .. string.format("%q", fake.base_url) .. [[, client_id = "demo-client",
  client_secret = "demo-secret", poll = { interval = 30, max_interval = 30, timeout = 600 } }
assert(c:postUsageQuery { interval = "2025-01-01/2025-01-02" }) -- logged in and connected
print("waiting") io.stdout:flush()
local result, err = c:query { interval = "2025-01-01/2025-01-02" }
print("returned", tostring(result), err and err.code, err and err.signal)
]]
  end

  it("a plain script's Ctrl-C ends a 30 s poll wait at once", function()
    local child = spawn(client_source())
    finally(child.stop)
    assert.is_true(child.ready("waiting", 30), "the child never got to its wait")
    nginx.sleep(0.3) -- inside the 30 s wait
    local t0 = nginx.now()
    assert(nginx.run("kill -INT " .. child.pid))
    local code, out, err = child.wait(20) -- the wait would take 30 s
    assert.is_number(code, "still waiting after 20 s: " .. out .. err)
    assert.is_true(nginx.now() - t0 < 20)
    assert.not_equal(0, code)
    assert.matches("interrupted", err)
    assert.is_nil(out:find("returned", 1, true))
  end)

  for _, sig in ipairs { "INT", "TERM", "HUP" } do
    it("with usage.trap_signals(), SIG" .. sig .. " ends the wait with err.code interrupted", function()
      local child = spawn(client_source("usage.trap_signals()\n"))
      finally(child.stop)
      assert.is_true(child.ready("waiting", 30), "the child never got to its wait")
      nginx.sleep(0.3)
      assert(nginx.run("kill -" .. sig .. " " .. child.pid))
      local code, out, err = child.wait(20)
      assert.equal(0, code, err)
      assert.matches("returned\tnil\tinterrupted\t" .. sig, out, 1, true)
    end)
  end

  it("with usage.trap_signals(), a signal ends a transfer under way too", function()
    fake:config { lifecycle = { polls = 0 } }
    fake:fault { fault = "slow", delay = 60, count = -1, match = { path = "/results$" } }
    local quick = spawn([[
local usage = require "usage"
usage.trap_signals()
local c = usage.new { base_url = ]] .. string.format("%q", fake.base_url) .. [[, client_id = "demo-client",
  client_secret = "demo-secret", timeout = 120, poll = { interval = 0.01, timeout = 600 } }
local result, err = c:query({ interval = "2025-01-01/2025-01-02" }, { on_progress = function(s)
  if s.state == "submitted" then print("submitted") io.stdout:flush() end
end })
print("returned", tostring(result), err and err.code, err and err.signal)
]])
    finally(quick.stop)
    assert.is_true(quick.ready("submitted", 30))
    nginx.sleep(0.5) -- its first result GET (slowed by 60 s) is under way
    assert(nginx.run("kill -TERM " .. quick.pid))
    local qcode, qout, qerr = quick.wait(20) -- the transfer would take 60 s
    assert.equal(0, qcode, qerr)
    assert.matches("returned\tnil\tinterrupted\tTERM", qout, 1, true)
  end)
end)
