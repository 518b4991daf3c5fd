-- genesys-usage's files against what another user, a hostile server or a signal can do (issue #17, items
-- 6, 7, 11, 12 and 13):
--   6   SIGKILL leaves no temporary file: the output has no name until it is complete (O_TMPFILE); a
--       program stuck in a loop that never looks at a trapped signal still ends (core.signal_deadline)
--   7   ~/.gc/config.toml as a FIFO, a directory, a device or a huge file: refused at once (exit 2), never
--       waited on, never read whole; Ctrl-C while an --output FIFO waits for its reader: exit 130
--   11  the temporary file beside --output cannot be predicted nor planted: symlinks planted in advance in
--       a shared directory are never followed (src/files.c: O_TMPFILE, or O_CREAT|O_EXCL|O_NOFOLLOW and
--       16 random hex digits)
--   12  rewriting a 0600 (0640) file keeps its mode, side files (--svg) too; a new file is 0666 less the umask
--   13  a profile file that holds a secret and is readable by others: a warning with the mode and the fix
-- The checks read the file system with stat(1) and ls(1), not with the code under test.

local hostile = require "support.hostile"
local nginx = require "support.nginx"
local support = require "support.cli"

local TOKEN = "tok-" .. string.rep("Fz8", 30)
local sh = nginx.sh_quote

local function popen_read(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end
local function mode_of(path) return (popen_read("stat -c %a " .. sh(path) .. " 2>/dev/null"):gsub("%s+$", "")) end
local function kind_of(path)
  return (popen_read("stat -c %F " .. sh(path) .. " 2>/dev/null"):gsub("%s+$", ""):gsub("^regular empty file$", "regular file"))
end
local function entries(dir)
  local out = {}
  for name in popen_read("ls -A " .. sh(dir)):gmatch("[^\n]+") do out[#out + 1] = name end
  table.sort(out)
  return out
end
local function mkdir(path) assert(nginx.run("mkdir -p " .. sh(path))) end

-- the umask of this process, as a number (the CLI runs inherit it unless a spec sets one)
local UMASK = tonumber(popen_read("sh -c umask"):match("%d+"), 8)
-- a & ~b on permission bits (no bitwise operators in LuaJIT's syntax)
local function and_not(a, b)
  local r, bit = 0, 1
  for _ = 1, 12 do
    if a % 2 == 1 and b % 2 == 0 then r = r + bit end
    a, b, bit = (a - a % 2) / 2, (b - b % 2) / 2, bit * 2
  end
  return r
end

describe("genesys-usage's files", function()
  local srv, t

  setup(function()
    srv = hostile.start()
    t = support.new { base_url = srv.base_url, client_id = "hostile-files", client_secret = "hostile-files-secret" }
  end)

  teardown(function()
    if srv then srv:stop() end
    if t then t:cleanup() end
  end)

  local function check(cond, r, what)
    if not cond then
      error((what or "assertion failed") .. "\n" .. (r and support.show(r) or "") .. "\n" .. srv:diagnostics(), 2)
    end
  end

  -- one row a day, or a job that never ends
  local function serve_rows()
    srv:script(hostile.with_login(TOKEN, [[
return function(req)
  if req.method == "POST" then return 200, nil, '{"id":"job-' .. req.n .. '"}' end
  local d = os.date("!%Y-%m-%d", os.time() - 86400)
  return 200, nil, '{"queryStatus":"Succeeded","entities":[{"date":"' .. d .. '","requestCount":7,"status429":1,' ..
    '"oauthClient":{"id":"c1","name":"n1"},"templateUri":"api/v2/x","httpMethod":"GET"}]}'
end]]))
  end
  local function serve_endless()
    srv:script(hostile.with_login(TOKEN, [[
return function(req)
  if req.method == "POST" then return 200, nil, '{"id":"job-1"}' end
  return 200, nil, '{"queryStatus":"Running"}'
end]]))
  end

  -- a run with a umask of its own (nil: this process's)
  local function run(args, opts)
    opts = opts or {}
    local base = t:next_base()
    local cd, cmd = t:command(args, opts, base)
    os.execute((opts.umask and ("umask " .. opts.umask .. "; ") or "") .. cd .. cmd .. "; echo $? >" .. sh(base .. ".rc"))
    return { code = tonumber(nginx.read_file(base .. ".rc")), out = nginx.read_file(base .. ".out") or "",
             err = nginx.read_file(base .. ".err") or "", args = args }
  end
  local function bounded(args, seconds, opts)
    local p = t:spawn(args, opts)
    local code = p:wait(seconds)
    if not code then p:stop() end
    return { code = code, out = p:stdout(), err = p:stderr(), args = args }, p
  end

  ------------------------------------------------------------------------------------------------
  describe("the temporary file beside --output (#17.11, #17.6)", function()
    it("is never a name another user could plant: symlinks in a shared directory are not followed", function()
      serve_rows()
      local shared = t:path("shared")
      mkdir(shared)
      assert(nginx.run("chmod 1777 " .. sh(shared)))
      local victim = t:path("victim")
      nginx.write_file(victim, "precious\n")
      -- links at the output itself, and at every name of the form the old code used, for this second
      for _, name in ipairs { "out.csv", "out.csv.tmp-0", "out.csv.tmp-1", ".out.csv.tmp" } do
        assert(nginx.run("ln -s " .. sh(victim) .. " " .. sh(shared .. "/" .. name)))
      end
      local r = run { "aggregates", "--last", "2d", "-o", shared .. "/out.csv", "--quiet" }
      check(r.code == 0, r)
      check(nginx.read_file(victim) == "precious\n", r, "the victim was written")
      check(kind_of(shared .. "/out.csv") == "regular file", r, "out.csv: " .. kind_of(shared .. "/out.csv"))
      check(nginx.read_file(shared .. "/out.csv"):find("^date,"), r)
      local left = table.concat(entries(shared), " ")
      check(left == ".out.csv.tmp out.csv out.csv.tmp-0 out.csv.tmp-1", r, "entries: " .. left)
      for _, name in ipairs { "out.csv.tmp-0", "out.csv.tmp-1", ".out.csv.tmp" } do
        check(kind_of(shared .. "/" .. name) == "symbolic link", r, name .. " was replaced")
      end
    end)

    it("a name derived from the clock and math.random (the old scheme) is not used", function()
      -- the old name: NAME.tmp-<ms of the monotonic clock><first math.random(0, 0xFFFFFF) after the seed>
      local core = require "usage.core"
      local sink = require "usage.cli.sink"
      local dir = t:path("predict")
      mkdir(dir)
      local victim = t:path("victim2")
      nginx.write_file(victim, "precious\n")
      local path = dir .. "/report.csv"
      local now = core.now
      core.now = function() return 12345.678 end
      local ok, err = pcall(function()
        math.randomseed(4242)
        local predicted = path .. ".tmp-" .. string.format("%x%06x", math.floor(12345.678 * 1000) % 0x100000000,
                                                          math.random(0, 0xFFFFFF))
        assert(nginx.run("ln -s " .. sh(victim) .. " " .. sh(predicted)))
        math.randomseed(4242)
        local s = assert(sink.open(path, error))
        s.fh:write("written by the command\n")
        assert(s:commit())
      end)
      core.now = now
      assert(ok, tostring(err))
      assert.equal("precious\n", nginx.read_file(victim))
      assert.equal("regular file", kind_of(path))
      assert.equal("written by the command\n", nginx.read_file(path))
    end)

    it("has no name while the command runs, so SIGKILL leaves nothing and the old file as it was", function()
      serve_endless()
      local dir = t:path("kill")
      mkdir(dir)
      local out = dir .. "/out.csv"
      nginx.write_file(out, "old,content\r\n")
      local p = t:spawn { "aggregates", "--last", "2d", "-o", out, "--poll-timeout", "600", "--verbose" }
      local started = p:wait_for("job job%-1 started", 20)
      nginx.sleep(0.5)
      local during = entries(dir)
      p:signal("KILL")
      local code = p:wait(10)
      local r = { code = code, err = p:stderr(), args = { "aggregates", "-o", out } }
      check(started, r, "the run never got to the job")
      check(#during == 1 and during[1] == "out.csv", r, "during the run: " .. table.concat(during, " "))
      local after = entries(dir)
      check(#after == 1 and after[1] == "out.csv", r, "after SIGKILL: " .. table.concat(after, " "))
      check(nginx.read_file(out) == "old,content\r\n", r, "the old file changed")
    end)

    it("core.open_output: named where O_TMPFILE is not used, NAME.tmp-<16 random hex digits>, exclusive", function()
      local core = require "usage.core"
      local dir = t:path("named")
      mkdir(dir)
      local seen = {}
      for i = 1, 200 do
        local f = assert(core.open_output(dir .. "/x.csv", { named = true }))
        local name = f:temp_name()
        assert.truthy(name:match("^x%.csv%.tmp%-%x+$") and #name == #"x.csv.tmp-" + 16, name)
        assert.is_nil(seen[name], "a name came twice: " .. name)
        seen[name] = true
        assert.equal("regular file", kind_of(dir .. "/" .. name))
        if i % 2 == 0 then f:abort() else f = nil end -- (an unfinished file left to the GC: removed too)
      end
      collectgarbage()
      collectgarbage()
      assert.same({}, entries(dir))
      local f = assert(core.open_output(dir .. "/x.csv", { named = true }))
      assert(f:write("a", 1, "\n"))
      assert.is_true(f:commit())
      assert.same({ "x.csv" }, entries(dir))
      assert.equal("a1\n", nginx.read_file(dir .. "/x.csv"))
      assert.has_error(function() f:write("late") end)
      -- O_TMPFILE: no name at all until the commit
      local u = assert(core.open_output(dir .. "/y.csv"))
      assert.is_nil(u:temp_name())
      assert(u:write(string.rep("y", 200000)))
      assert.same({ "x.csv" }, entries(dir))
      assert.is_true(u:commit())
      assert.same({ "x.csv", "y.csv" }, entries(dir))
      assert.equal(200000, #nginx.read_file(dir .. "/y.csv"))
      -- no directory, a directory
      local n1, e1 = core.open_output(dir .. "/no/such/z.csv")
      assert.is_nil(n1)
      assert.truthy(e1:find("no such directory", 1, true))
      assert.is_nil((core.open_output(dir)))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("modes (#17.12)", function()
    it("a 0600 or 0640 file keeps its mode when the command rewrites it, side files too", function()
      serve_rows()
      local dir = t:path("modes")
      mkdir(dir)
      for _, m in ipairs { "600", "640", "604" } do
        local out, side = dir .. "/r" .. m .. ".csv", dir .. "/r" .. m .. ".svg"
        nginx.write_file(out, "old\n")
        nginx.write_file(side, "old\n")
        assert(nginx.run("chmod " .. m .. " " .. sh(out) .. " " .. sh(side)))
        local r = run { "report", "--last", "2d", "-o", out, "--svg", side, "--quiet" }
        check(r.code == 0, r)
        check(mode_of(out) == m, r, "the output's mode is " .. mode_of(out) .. ", was " .. m)
        check(mode_of(side) == m, r, "the side file's mode is " .. mode_of(side) .. ", was " .. m)
        check(nginx.read_file(out):find("^section,"), r, "not rewritten")
      end
      assert.same({}, support.temp_files(dir))
    end)

    it("a new file is 0666 less the umask (077: 0600, 022: 0644)", function()
      serve_rows()
      local dir = t:path("umask")
      mkdir(dir)
      for _, case in ipairs { { "077", "600" }, { "022", "644" }, { "027", "640" } } do
        local out = dir .. "/new" .. case[1] .. ".json"
        local r = run({ "aggregates", "--last", "2d", "-o", out, "--quiet" }, { umask = case[1] })
        check(r.code == 0, r)
        check(mode_of(out) == case[2], r, "umask " .. case[1] .. ": mode " .. mode_of(out))
      end
      local core = require "usage.core"
      local f = assert(core.open_output(dir .. "/unit.txt"))
      assert.is_true(f:commit())
      assert.equal(string.format("%o", and_not(438, UMASK)), mode_of(dir .. "/unit.txt"))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("files that are no files (#17.7)", function()
    -- a home whose ~/.gc/config.toml is made by `make(path)`
    local function home_with(name, make)
      local home = t:path("home-" .. name)
      mkdir(home .. "/.gc")
      make(home .. "/.gc/config.toml")
      return home
    end
    local CASES = {
      { "a FIFO", function(p) assert(nginx.run("mkfifo " .. sh(p))) end, "FIFO" },
      { "a directory", function(p) mkdir(p) end, "directory" },
      { "a device (a link to /dev/zero)", function(p) assert(nginx.run("ln -s /dev/zero " .. sh(p))) end, "device" },
      { "a 2 GB file", function(p) assert(nginx.run("truncate -s 2G " .. sh(p))) end, "larger than" },
    }
    for _, case in ipairs(CASES) do
      it("~/.gc/config.toml as " .. case[1] .. ": exit 2 at once, one line, nothing sent, --dry-run too", function()
        serve_rows()
        local home = home_with((case[1]:gsub("%W", "")), case[2])
        for _, extra in ipairs { {}, { "--dry-run" } } do
          local args = { "aggregates", "--last", "2d" }
          for _, a in ipairs(extra) do args[#args + 1] = a end
          local r, p = bounded(args, 3, { home = home })
          if r.code == nil then -- still waiting on the file after 3 s: what does Ctrl-C do?
            local p2 = t:spawn(args, { home = home })
            nginx.sleep(1)
            p2:signal("INT")
            local c2 = p2:wait(5)
            if not c2 then p2:stop() end
            check(false, { code = c2, err = p2:stderr(), out = p2:stdout(), args = args },
                  "still running after 3 s; after Ctrl-C it exited " .. tostring(c2) .. " (expected at once: 2)")
          end
          check(r.code == 2, r, "exit " .. tostring(r.code))
          check(support.one_line(r.err), r, "not one line")
          check(r.err:find(home .. "/.gc/config.toml", 1, true) and r.err:find(case[3], 1, true), r, "the message")
          check(#srv:log() == 0, r, "something was sent")
          assert(p)
        end
      end)
    end

    it("an --output FIFO that no one reads waits; Ctrl-C ends the command with 130, not 1", function()
      serve_rows()
      local fifo = t:path("out.fifo")
      assert(nginx.run("mkfifo " .. sh(fifo)))
      local p = t:spawn { "aggregates", "--last", "2d", "-o", fifo }
      nginx.sleep(1.5)
      local waiting = nginx.pid_alive(p.pid)
      p:signal("INT")
      local code = p:wait(5)
      local r = { code = code, err = p:stderr(), args = { "aggregates", "-o", fifo } }
      if not code then p:stop() end
      check(waiting, r, "it did not wait for a reader")
      check(code == 130, r, "exit " .. tostring(code))
      check(r.err:find("interrupted (SIGINT)", 1, true) and support.one_line(r.err), r)
      -- and with a reader, the rows go through the FIFO
      local copy = t:path("fifo-copy")
      os.execute("cat " .. sh(fifo) .. " > " .. sh(copy) .. " &")
      local ok = run { "aggregates", "--last", "2d", "-o", fifo, "--format", "csv", "--quiet" }
      check(ok.code == 0, ok)
      local got
      for _ = 1, 250 do
        got = nginx.read_file(copy)
        if got and got:find("\r\n.*\r\n") then break end
        nginx.sleep(0.02)
      end
      check(got and got:find("^date,"), ok, "the reader got: " .. tostring(got))
    end)

    it("core.read_file: only a regular file, at most max bytes, never blocked by a FIFO", function()
      local core = require "usage.core"
      local dir = t:path("read")
      mkdir(dir)
      assert(nginx.run("mkfifo " .. sh(dir .. "/fifo")))
      nginx.write_file(dir .. "/small", "abc")
      for _, case in ipairs {
        { dir .. "/fifo", "not_file", "fifo" }, { dir, "not_file", "directory" }, { "/dev/zero", "not_file", "char" },
        { dir .. "/none", "missing" }, { dir .. "/small/x", "missing" },
      } do
        local text, why, reason = core.read_file(case[1], 100)
        assert.is_nil(text, case[1])
        assert.equal(case[2], reason, case[1])
        if case[3] then assert.equal(case[3], why) end
      end
      local text, info = core.read_file(dir .. "/small", 3)
      assert.equal("abc", text)
      assert.equal("file", info.type)
      assert.is_true(info.mine)
      assert.equal("too_large", select(3, core.read_file(dir .. "/small", 2)))
    end)
  end)

  ------------------------------------------------------------------------------------------------
  describe("a profile file others can read (#17.13)", function()
    local SECRETFUL = "[default]\nclient_credentials = 'a'\nclient_secret = 'the-secret-9'\nenvironment = 'eu-west-1'\n"
    for _, case in ipairs {
      { "644", SECRETFUL, "everyone" }, { "640", SECRETFUL, "your group" }, { "604", SECRETFUL, "everyone" },
      { "600", SECRETFUL, nil }, { "400", SECRETFUL, nil },
      { "644", "[default]\nenvironment = 'eu-west-1'\n", nil },
      { "644", "[default]\n[other]\naccess_token = 'tok-123456789'\n", "everyone" },
    } do
      it(string.format("mode %s, %s: %s", case[1], case[2]:find("secret", 1, true) and "a client secret" or
                       (case[2]:find("token", 1, true) and "a token in another profile" or "no secret"),
                       case[3] and "a warning on stderr" or "no warning"), function()
        local home = t:path("h" .. case[1] .. (case[3] or "none"):gsub(" ", ""))
        mkdir(home .. "/.gc")
        local path = home .. "/.gc/config.toml"
        nginx.write_file(path, case[2])
        assert(nginx.run("chmod " .. case[1] .. " " .. sh(path)))
        local r = run({ "aggregates", "--last", "2d", "--dry-run", "--quiet" }, { home = home })
        check(r.code == 0, r)
        local warning = r.err:match("genesys%-usage: warning: [^\n]*")
        if case[3] then
          check(warning, r, "no warning")
          check(warning:find(path, 1, true) and warning:find("(mode 0" .. case[1] .. ")", 1, true) and
                warning:find("chmod 600 " .. path, 1, true) and warning:find(case[3], 1, true), r, "the warning")
          check(not r.err:find("the-secret-9", 1, true) and not r.err:find("tok-123456789", 1, true), r, "a secret")
        else
          check(not warning, r, "a warning")
        end
      end)
    end
  end)

  ------------------------------------------------------------------------------------------------
  it("core.signal_deadline: a loop that never looks at a trapped SIGTERM still ends, with 143 (#17.6)", function()
    local script = t:path("loop.lua")
    nginx.write_file(script, string.format([[
package.cpath = %q .. "/build/" .. (jit and "luajit" or "lua5.4") .. "/?.so;" .. package.cpath
local core = require "usage.core"
core.trap_signals { "INT", "TERM" }
core.signal_deadline(2)
io.stderr:write("looping\n")
io.stderr:flush()
local x = 0
while true do x = x + 1 end
]], support.REPO))
    local p = t:spawn({}, { script = script, raw = true })
    check(p:wait_for("looping", 10), nil, "the script did not start: " .. p:stderr())
    nginx.sleep(0.3)
    p:signal("TERM")
    local code = p:wait(15)
    if not code then p:stop() end
    check(code == 143, { code = code, err = p:stderr(), args = { "loop.lua" } }, "exit " .. tostring(code))
  end)
end)
