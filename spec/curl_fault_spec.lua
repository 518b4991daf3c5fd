-- libcurl calls that fail: every curl_easy_setopt, curl_multi_*, curl_easy_getinfo and curl_easy_init of the
-- C core is checked, and a failure comes back as `nil, code, message` naming the call (never a crash, never
-- a raise, never a transfer on a half-configured handle); the protocols option follows the libcurl loaded at
-- run time. The failures are injected by build/test/curlfault.so (spec/support/curlfault.c, LD_PRELOAD) in
-- a child interpreter of the running Lua version, which also logs every option the core sets.
-- The #integration part checks the same against a server (support.hostile).

local nginx = require "support.nginx"

local sh_quote, read_file = nginx.sh_quote, nginx.read_file
local REPO = nginx.absolute(".")
local INTERP = (type(jit) == "table") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local SHIM = REPO .. "/build/test/curlfault.so"

-- the code of the child script: prints show(...) lines "a|b|c" (nil as "nil")
local PRELUDE = [[
local core = require "usage.core"
local function show(...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = tostring((select(i, ...))) end
  io.write(table.concat(t, "|"), "\n")
end
]]

-- run(env, script) -> output (stdout and stderr, then "exit=N"), the log of the shim
local function run(env, script)
  local log = os.tmpname()
  local words = { "env", "LD_PRELOAD=" .. sh_quote(SHIM), "CURLFAULT_LOG=" .. sh_quote(log),
                  "LUA_PATH=" .. sh_quote(REPO .. "/lua/?.lua;" .. REPO .. "/lua/?/init.lua;;"),
                  "LUA_CPATH=" .. sh_quote(REPO .. "/build/" .. INTERP .. "/?.so;;") }
  for k, v in pairs(env or {}) do words[#words + 1] = k .. "=" .. sh_quote(v) end
  words[#words + 1] = INTERP .. " -e " .. sh_quote(PRELUDE .. script) .. " 2>&1; echo \"exit=$?\""
  local p = assert(io.popen(table.concat(words, " ")))
  local out = p:read("*a")
  p:close()
  local text = read_file(log) or ""
  os.remove(log)
  return out, text
end

-- the options the handle holds after the logged calls: name -> value ("" for a pointer), and the order of
-- the last setting of each (a refused setting, followed by its "result" line, changes nothing)
local function replay(log)
  local lines = {}
  for line in log:gmatch("[^\n]+") do lines[#lines + 1] = line end
  local state, order = {}, {}
  for i, line in ipairs(lines) do
    local name, value = line:match("^setopt (%S+) ?(.*)$")
    local refused = lines[i + 1] and lines[i + 1]:match("^result " .. (name or "") .. " ")
    if name and not refused then
      state[name], order[name] = value, i
    end
  end
  return state, order
end

local function after(log, marker)
  local at = log:find(marker, 1, true)
  return at and log:sub(at) or ""
end

local SESSION_OPTIONS = {
  "CURLOPT_NOSIGNAL", "CURLOPT_PRIVATE", "CURLOPT_ERRORBUFFER", "CURLOPT_WRITEFUNCTION", "CURLOPT_WRITEDATA",
  "CURLOPT_HEADERFUNCTION", "CURLOPT_HEADERDATA", "CURLOPT_ACCEPT_ENCODING", "CURLOPT_TCP_KEEPALIVE",
  "CURLOPT_FOLLOWLOCATION", "CURLOPT_PROTOCOLS_STR", "CURLOPT_HTTP_VERSION", "CURLOPT_USERAGENT", "CURLOPT_PROXY",
  "CURLOPT_CAINFO", "CURLOPT_SSL_VERIFYPEER", "CURLOPT_SSL_VERIFYHOST",
}

-- a refused port on this machine: a transfer there ends at once with "connect" (no server, no network)
local CLOSED = "http://127.0.0.1:1/"

describe("libcurl failures", function()
  it("has its shim (make build)", function()
    assert.is_truthy(read_file(SHIM), SHIM .. " is missing: run make build")
    local out = run({}, "show(core.session {})")
    assert.matches("^usage.core.session", out)
    assert.matches("exit=0", out, 1, true)
  end)

  it("answers every session setting libcurl refuses with nil, code, message naming it", function()
    for _, name in ipairs(SESSION_OPTIONS) do
      local out = run({ CURLFAULT_SETOPT = name }, [[
        show(core.session { user_agent = "spec/1", proxy = "http://127.0.0.1:9", ca_file = "/dev/null" })
        collectgarbage() -- the refused session's handle is released (valgrind and ASan check it)
      ]])
      assert.equal("nil|no_memory|curl_easy_setopt(" .. name .. ") failed: Out of memory\nexit=0\n", out, name)
    end
    -- a code other than out of memory: the transport code
    local out = run({ CURLFAULT_SETOPT = "CURLOPT_ACCEPT_ENCODING", CURLFAULT_CODE = "48" },
                    "show(core.session {})")
    assert.matches("^nil|transport|curl_easy_setopt%(CURLOPT_ACCEPT_ENCODING%) failed: ", out)
  end)

  it("answers a handle libcurl cannot make with nil, no_memory", function()
    local out = run({ CURLFAULT_EASY_INIT = "1" }, "show(core.session {}) show(core.session {} ~= nil)")
    assert.equal("nil|no_memory|curl_easy_init failed\ntrue\nexit=0\n", out)
    out = run({ CURLFAULT_MULTI = "init" }, "show(core.multi()) show(core.multi() ~= nil)")
    assert.equal("nil|no_memory|curl_multi_init failed\ntrue\nexit=0\n", out)
  end)

  -- request 1 (a PATCH with a body) meets the refused setting; request 2 (a GET, same timeouts) must find
  -- the handle set afresh: its method, URL, headers and timeouts are its own
  local TRANSFER = {
    { "CURLOPT_HTTPHEADER" }, { "CURLOPT_URL" }, { "CURLOPT_NOBODY" }, { "CURLOPT_CUSTOMREQUEST", "@1" },
    { "CURLOPT_POST" }, { "CURLOPT_POSTFIELDSIZE_LARGE" }, { "CURLOPT_COPYPOSTFIELDS" },
    { "CURLOPT_CUSTOMREQUEST", "@2" }, { "CURLOPT_TIMEOUT_MS" }, { "CURLOPT_CONNECTTIMEOUT_MS" },
    { "CURLOPT_XFERINFOFUNCTION", nil, true }, { "CURLOPT_NOPROGRESS", nil, true },
  }
  it("answers every transfer setting libcurl refuses with nil, code, message, and sets the next transfer afresh",
     function()
    for _, case in ipairs(TRANSFER) do
      local name, nth, signals = case[1], case[2] or "", case[3]
      local out, log = run({ CURLFAULT_SETOPT = name .. nth }, (signals and 'core.trap_signals { "USR2" }\n' or "") .. [[
        local s = core.session {}
        show(s:request { method = "PATCH", url = "http://127.0.0.1:1/first", body = "{\"a\":1}",
                         headers = { ["x-first"] = "1" }, timeout = 7, connect_timeout = 3 })
        show(s:usable())
        local status, code = s:request { url = "http://127.0.0.1:1/second", timeout = 7, connect_timeout = 3 }
        show(status, code)
        s:close()
      ]])
      assert.equal("nil|no_memory|curl_easy_setopt(" .. name .. ") failed: Out of memory\ntrue\nnil|connect\nexit=0\n",
                   out, name .. nth .. "\n" .. log)
      local state, order = replay(log)
      assert.equal("http://127.0.0.1:1/second", state.CURLOPT_URL, name .. nth .. "\n" .. log)
      assert.equal("", state.CURLOPT_CUSTOMREQUEST, name .. nth .. ": a custom method left over\n" .. log)
      assert.equal("0", state.CURLOPT_NOBODY, name .. nth .. "\n" .. log)
      assert.equal("1", state.CURLOPT_HTTPGET, name .. nth .. ": the GET is not a GET\n" .. log)
      assert.is_true(order.CURLOPT_HTTPGET > (order.CURLOPT_POST or 0), name .. nth .. ": still a POST\n" .. log)
      assert.equal("7000", state.CURLOPT_TIMEOUT_MS, name .. nth .. "\n" .. log)
      assert.equal("3000", state.CURLOPT_CONNECTTIMEOUT_MS, name .. nth .. "\n" .. log)
      -- the second transfer's header list was handed over after the failure
      assert.matches("setopt CURLOPT_HTTPHEADER", after(log, "result " .. name), 1, true)
    end
  end)

  it("answers a refused setting in multi:add with nil, code, message; the session stays out of the multi", function()
    local out = run({ CURLFAULT_SETOPT = "CURLOPT_COPYPOSTFIELDS" }, [[
      local m, s = core.multi(), core.session {}
      show(m:add(s, { method = "POST", url = "http://127.0.0.1:1/", body = "{}" }))
      show(s:busy(), m:count(), s:usable())
      show(m:add(s, { url = "http://127.0.0.1:1/", connect_timeout = 3 }))
      local done
      repeat done = m:perform(0.05) until #done == 1
      show(done[1] == s, (select(2, s:result())))
      show(m:close())
    ]])
    assert.equal("nil|no_memory|curl_easy_setopt(CURLOPT_COPYPOSTFIELDS) failed: Out of memory\n" ..
                 "false|0|true\ntrue\ntrue|connect\ntrue\nexit=0\n", out)
  end)

  it("answers every curl_multi_* failure with nil, code, message", function()
    local REQ = '{ url = "http://127.0.0.1:1/", connect_timeout = 3 }'
    local out = run({ CURLFAULT_MULTI = "add_handle" }, [[
      local m, s = core.multi(), core.session {}
      show(m:add(s, ]] .. REQ .. [[))
      show(s:busy(), m:count(), s:usable())
      show(m:close())
    ]])
    assert.equal("nil|no_memory|curl_multi_add_handle failed: Out of memory\nfalse|0|true\ntrue\nexit=0\n", out)
    out = run({ CURLFAULT_MULTI = "perform" }, [[
      local m, s = core.multi(), core.session {}
      show(m:add(s, ]] .. REQ .. [[))
      show(m:perform(0))
      show(m:remove(s))
      show(s:usable(), m:count())
      show(m:close())
    ]])
    assert.equal("true\nnil|no_memory|curl_multi_perform failed: Out of memory\ntrue\ntrue|0\ntrue\nexit=0\n", out)
    out = run({ CURLFAULT_MULTI = "poll" }, "local m = core.multi() show(m:perform(0.01)) show(m:close())")
    assert.equal("nil|no_memory|curl_multi_poll failed: Out of memory\ntrue\nexit=0\n", out)
    -- libcurl cannot take the handle back: the session is broken, never reused (its pool drops it)
    out = run({ CURLFAULT_MULTI = "remove_handle" }, [[
      local m, s = core.multi(), core.session {}
      show(m:add(s, ]] .. REQ .. [[))
      show(m:remove(s))
      show(s:usable())
      show(s:request { url = "http://127.0.0.1:1/" })
      show(m:add(s, ]] .. REQ .. [[))
      show(m:close())
    ]])
    local broken = "this session cannot be used again: curl_multi_remove_handle failed: Out of memory"
    assert.equal("true\nnil|no_memory|curl_multi_remove_handle failed: Out of memory\nfalse|" .. broken ..
                 "\nnil|no_memory|" .. broken .. "\nnil|no_memory|" .. broken .. "\ntrue\nexit=0\n", out)
    out = run({ CURLFAULT_MULTI = "cleanup" }, "local m = core.multi() show(m:close()) show(m:close())")
    assert.equal("nil|no_memory|curl_multi_cleanup failed: Out of memory\ntrue\nexit=0\n", out)
  end)

  it("turns the failures into err values of the library, in a plain script and in usage.gather", function()
    local CLIENT = [[
      local usage = require "usage"
      local client = usage.new { base_url = "http://127.0.0.1:1", client_id = "spec-client-id",
                                 client_secret = "spec-client-secret-value", retry = false }
      local ID = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac"
      local function call() return client:get_usage_query_execution_id_results(ID) end
    ]]
    local GATHER = [[
      local res, errs = usage.gather { call, call }
      show("gather", res[1], errs[1].code, errs[1].message, errs[2].code)
      res, errs = usage.gather { call }
      show("again", errs[1].code)
    ]]
    local out = run({ CURLFAULT_SETOPT = "CURLOPT_COPYPOSTFIELDS@0" }, CLIENT .. [[
      local r, err = call()
      show("blocking", r, err.code, err.message)
    ]] .. GATHER)
    assert.equal("blocking|nil|no_memory|curl_easy_setopt(CURLOPT_COPYPOSTFIELDS) failed: Out of memory\n" ..
                 "gather|nil|no_memory|curl_easy_setopt(CURLOPT_COPYPOSTFIELDS) failed: Out of memory|no_memory\n" ..
                 "again|no_memory\nexit=0\n", out)
    -- the multi faults: only where gather runs on a multi handle (not PUC Lua 5.1, where it runs one after
    -- another on blocking transfers, whose libcurl uses a multi handle of its own inside)
    if require("usage.runtime.gather").concurrent then
      -- the failed multi is dropped: the next gather's transfers run on a new one
      out = run({ CURLFAULT_MULTI = "perform@1" }, CLIENT .. GATHER)
      assert.equal("gather|nil|no_memory|curl_multi_perform failed: Out of memory|no_memory\nagain|connect\nexit=0\n",
                   out)
      out = run({ CURLFAULT_MULTI = "add_handle@1" }, CLIENT .. GATHER)
      assert.equal("gather|nil|no_memory|curl_multi_add_handle failed: Out of memory|no_memory\nagain|connect\n" ..
                   "exit=0\n", out)
      out = run({ CURLFAULT_MULTI = "init@0" }, CLIENT .. GATHER)
      assert.equal("gather|nil|no_memory|curl_multi_init failed|no_memory\nagain|no_memory\nexit=0\n", out)
    end
  end)

  it("answers every failed call of libcurl's URL API with nil, message, never a URL missing a part", function()
    local URLS = { "http://user:pw@127.0.0.1:8080/a/b?q=1#f", "api.example/x" }
    local script = [[
      local function flat(t)
        if type(t) ~= "table" then return tostring(t) end
        local keys = {}
        for k in pairs(t) do keys[#keys + 1] = k end
        table.sort(keys)
        for i, k in ipairs(keys) do keys[i] = k .. "=" .. tostring(t[k]) end
        return table.concat(keys, ",")
      end
      local a, b = core.parse_url("http://user:pw@127.0.0.1:8080/a/b?q=1#f")
      show(flat(a), b)
      a, b = core.parse_url("api.example/x", true)
      show(flat(a), b)
      show(core.resolve_url("http://127.0.0.1:8080/a/b", "../c?d=1"))
    ]]
    local clean = run({}, script)
    assert.matches("^fragment=f,host=127.0.0.1,loopback=true,origin=http://127.0.0.1:8080,password=pw,path=/a/b,port=8080,", clean)
    local clean_lines = {}
    for line in clean:gmatch("[^\n]+") do clean_lines[#clean_lines + 1] = line end
    for _, call in ipairs { "get", "set" } do
      for n = 1, 100 do -- the Nth call fails, until there is no Nth call
        local out = run({ CURLFAULT_URL = call .. "@" .. n }, script)
        if out == clean then break end
        local i = 0
        for line in out:gmatch("[^\n]+") do
          i = i + 1
          if line ~= clean_lines[i] then -- the failure: nil and a message, never a partial answer
            assert.matches("^nil|[%w ]+: [^|]+$", line, nil, false, call .. "@" .. n .. ":\n" .. out)
          end
        end
        assert.equal(#clean_lines, i, out)
      end
    end
    assert.equal("nil|curl_url failed: out of memory\nexit=0\n",
                 run({ CURLFAULT_URL = "new" }, "show(core.parse_url('http://127.0.0.1/'))"))
  end)

  it("picks the protocols option by the libcurl loaded at run time, not by the headers", function()
    local _, log = run({}, "core.session {}")
    assert.matches("setopt CURLOPT_PROTOCOLS_STR http,https\n", log, 1, true)
    assert.is_nil(log:find("setopt CURLOPT_PROTOCOLS ", 1, true))
    -- a libcurl older than 7.85.0 knows only CURLOPT_PROTOCOLS (3 = CURLPROTO_HTTP | CURLPROTO_HTTPS)
    _, log = run({ CURLFAULT_VERSION = "0x075400" }, "core.session {}")
    assert.matches("setopt CURLOPT_PROTOCOLS 3\n", log, 1, true)
    assert.is_nil(log:find("CURLOPT_PROTOCOLS_STR", 1, true))
    local out = run({ CURLFAULT_VERSION = "0x075400" }, "show(core.features.curl)")
    assert.equal("7.84.0\nexit=0\n", out)
  end)
end)

describe("libcurl failures against a server #integration", function()
  local hostile = require "support.hostile"
  local srv

  lazy_setup(function() srv = hostile.start() end)
  before_each(function() -- a new script starts a new request log
    srv:script [[ return function(req)
      return 200, { ["Content-Type"] = "text/plain" }, req.method .. " " .. req.uri .. " body=" .. #(req.body or "")
    end ]]
  end)
  lazy_teardown(function() if srv then srv:stop() end end)

  it("sends the transfer after a refused one as asked: a GET after a POST whose body could not be copied", function()
    local out = run({ CURLFAULT_SETOPT = "CURLOPT_COPYPOSTFIELDS" }, [[
      local s = core.session {}
      show(s:request { method = "POST", url = "]] .. srv.base_url .. [[/post", body = "{\"a\":1}", timeout = 10 })
      local status, _, body = s:request { url = "]] .. srv.base_url .. [[/get", timeout = 10 }
      show(status, body)
    ]])
    assert.equal("nil|no_memory|curl_easy_setopt(CURLOPT_COPYPOSTFIELDS) failed: Out of memory\n" ..
                 "200|GET /get body=0\nexit=0\n", out, srv:diagnostics())
    local seen = {}
    for _, e in ipairs(srv:log()) do seen[#seen + 1] = e.method .. " " .. e.path end
    assert.same({ "GET /get" }, seen, "nothing of the refused POST may reach the server")
  end)

  it("answers a status libcurl cannot give with nil, code, message, then serves the next transfer", function()
    local out = run({ CURLFAULT_GETINFO = "CURLINFO_RESPONSE_CODE" }, [[
      local s = core.session {}
      show(s:request { url = "]] .. srv.base_url .. [[/one", timeout = 10 })
      local status, _, body = s:request { url = "]] .. srv.base_url .. [[/two", timeout = 10 }
      show(status, body)
    ]])
    assert.matches("^nil|transport|curl_easy_getinfo%(CURLINFO_RESPONSE_CODE%) failed: [^|\n]+|nil|nil\n" ..
                   "200|GET /two body=0\nexit=0\n$", out)
  end)

  it("finds a finished transfer's session without CURLINFO_PRIVATE", function()
    local out = run({ CURLFAULT_GETINFO = "CURLINFO_PRIVATE@0" }, [[
      local m, a, b = core.multi(), core.session {}, core.session {}
      m:add(a, { url = "]] .. srv.base_url .. [[/a", timeout = 10 })
      m:add(b, { url = "]] .. srv.base_url .. [[/b", timeout = 10 })
      local got = {}
      local deadline = core.now() + 10
      while #got < 2 and core.now() < deadline do
        for _, s in ipairs(m:perform(0.05)) do
          local status, _, body = s:result()
          got[#got + 1] = (s == a and "a " or "b ") .. status .. " " .. body
        end
      end
      table.sort(got)
      show(got[1], got[2])
    ]])
    assert.equal("a 200 GET /a body=0|b 200 GET /b body=0\nexit=0\n", out, srv:diagnostics())
  end)
end)
