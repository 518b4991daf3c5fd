-- Inside nginx, through the shared dict (issue #17.3): a token refresh that answers the same access_token
-- leaves the real token in the dict (never the redaction mark), so every worker keeps working. The
-- nginx of spec/resty/nginx.conf.in runs against the scriptable hostile server (spec/support/hostile.lua).
-- Runs under `lua5.4 /usr/bin/busted` and `luajit /usr/bin/busted` (nginx always loads the LuaJIT core).

local fakecloud = require "fakecloud"
local core = require "usage.core"
local hostile = require "support.hostile"
local cjson = require("cjson").new()

local launcher = dofile(fakecloud.repo .. "/spec/resty/launcher.lua")

local function file_exists(p)
  local fh = io.open(p, "rb")
  if fh then fh:close() end
  return fh ~= nil
end

local missing
if not file_exists("/usr/lib/nginx/modules/ngx_http_lua_module.so") then
  missing = "libnginx-mod-http-lua is not installed"
elseif not file_exists(fakecloud.repo .. "/build/luajit/usage/core.so") then
  missing = "build/luajit/usage/core.so is missing (make build)"
end

if missing then
  describe("a token refresh inside nginx", function()
    pending("skipped: " .. missing)
  end)
  return
end

local TOKEN = "tok-shared-" .. string.rep("Qw7", 20)

describe("a token refresh inside nginx, through the shared dict (#17.3)", function()
  local srv, nx

  setup(function()
    srv = hostile.start()
    srv:script [[ return function() return 503, nil, '{"message":"not yet"}' end ]]
    nx = launcher.start { template = "spec/resty/nginx.conf.in",
                          vars = { WORKERS = 1, FAKE_URL = srv.base_url, SHARED_DICT = "usage_tokens",
                                   REUSEPORT = "", VM_POOL = 4 } }
    -- the worker's timer probe logs in on its own: let it finish before the script that counts logins
    local deadline = core.now() + 15
    while core.now() < deadline do
      local _, _, body = nx:get("/phases")
      local ok, phases = pcall(cjson.decode, body or "")
      if ok and type(phases) == "table" and phases["timer:0"] then break end
      core.sleep(0.05)
    end
  end)

  teardown(function()
    if nx then nx:stop() end
    if srv then srv:stop() end
  end)

  local function op()
    local status, _, body = nx:get("/flow/op?shared=1&interval=" .. core.percent_encode(
      "2025-01-01T00:00:00Z/2025-01-08T00:00:00Z"), 30)
    assert.equal(200, status, body)
    return cjson.decode(body)
  end

  it("the dict keeps the real token, and the next request uses it", function()
    srv:script([[
      local TOKEN = ]] .. string.format("%q", TOKEN) .. [[
      return function(req, state)
        if req.path == "/oauth/token" then
          state.logins = (state.logins or 0) + 1
          return 200, nil, '{"access_token":"' .. TOKEN .. '","token_type":"bearer","expires_in":3600}'
        end
        if (state.logins or 0) < 2 then return 401, nil, '{"code":"bad.credentials","message":"revoked"}' end
        if req.headers.authorization ~= "Bearer " .. TOKEN then
          return 401, nil, '{"code":"bad.credentials","message":"not the token I gave"}'
        end
        return 200, nil, '{"executionId":"e1"}'
      end]])
    local first = op()
    assert.is_true(first.ok, cjson.encode(first.err or {}) .. "\n" .. srv:diagnostics())
    local second = op() -- a new client in the worker: its token comes from the dict
    assert.is_true(second.ok, cjson.encode(second.err or {}) .. "\n" .. srv:diagnostics())
    local logins, api = 0, 0
    for _, e in ipairs(srv:log()) do
      if e.path == "/oauth/token" then
        logins = logins + 1
      else
        api = api + 1
        if api > 1 then -- the first API request was answered 401 whatever it carried
          assert.equal("Bearer " .. TOKEN, e.headers.authorization, srv:diagnostics())
        end
      end
    end
    assert.equal(2, logins, srv:diagnostics())
    assert.equal(3, api, srv:diagnostics())
  end)
end)
