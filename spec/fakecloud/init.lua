-- fakecloud: launcher of the fake Genesys Cloud (nginx + ngx_http_lua) for specs, demo and benchmarks.
-- Works under Lua 5.4 and LuaJIT. With package.path holding "spec/?.lua;spec/?/init.lua":
--
--   local fakecloud = require "fakecloud"
--   local fake = fakecloud.start{ port = nil, gzip = true, config = { lifecycle = { polls = 0 } } }
--   print(fake.base_url)             -- http://127.0.0.1:PORT
--   fake:fault{ fault = "status", status = 503, retry_after = 1 }
--   fake:stop()
--
-- Its own HTTP goes through the project's C core (usage.core).

local M = {}

M.clients = {
  demo = { id = "demo-client", secret = "demo-secret" },
  org_viewer = { id = "org-viewer", secret = "org-viewer-secret" },
  client_viewer = { id = "client-viewer", secret = "client-viewer-secret" },
  search_viewer = { id = "search-viewer", secret = "search-viewer-secret" },
  no_perms = { id = "no-perms", secret = "no-perms-secret" },
}

-- ---------------------------------------------------------------- paths

local nginx = require "support.nginx"   -- spec/support/nginx.lua: files, processes, ports, nginx
local read_file = nginx.read_file

local source = debug.getinfo(1, "S").source:gsub("^@", "")
M.dir = nginx.absolute(nginx.dirname(source))     -- .../spec/fakecloud
M.repo = nginx.dirname(nginx.dirname(M.dir))      -- the repository root
M.interpreter = (type(jit) == "table") and "luajit" or ("lua" .. (_VERSION:match("(%d+%.%d+)") or "5.4"))

-- ---------------------------------------------------------------- JSON and HTTP

local cjson = require("cjson").new()
pcall(cjson.decode_max_depth, 1000)

local function normalize(v)
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = normalize(x) end
    return v
  elseif v == cjson.null then
    return nil
  elseif type(v) == "number" and math.tointeger then
    return math.tointeger(v) or v
  end
  return v
end
M.normalize = normalize

local core
local function load_core()
  if core then return core end
  local ok, mod = pcall(require, "usage.core")
  if not ok then
    package.cpath = M.repo .. "/build/" .. M.interpreter .. "/?.so;" .. package.cpath
    ok, mod = pcall(require, "usage.core")
  end
  if not ok then
    error("fakecloud: the launcher needs the C core usage.core (run `make build`): " .. tostring(mod), 3)
  end
  core = mod
  return core
end

-- ---------------------------------------------------------------- the Fake object

local Fake = {}
Fake.__index = Fake

function Fake:request(method, path, body, headers)
  local h = headers or {}
  if body ~= nil and not h["content-type"] then h["content-type"] = "application/json" end
  local status, rh, rbody = self.session:request {
    method = method, url = self.base_url .. path, headers = h, body = body, timeout = 30, connect_timeout = 2,
  }
  return status, rh, rbody
end

-- The control answers decoded exactly where the interpreter has integers (Lua 5.3+): usage.base.json keeps
-- counts past 2^53 (count_offset) exact, where plain cjson rounds them to doubles, and an expectation a spec
-- computes from fake:data would then be off by the rounding (on the days whose figures are odd). On LuaJIT,
-- plain cjson: doubles are all it has.
local exact_decode
local function decode(text)
  if math.type and exact_decode == nil then
    load_core()
    local ok, json = pcall(require, "usage.base.json")
    exact_decode = ok and json.decode or false
  end
  if not exact_decode then return pcall(cjson.decode, text) end
  local v, err = exact_decode(text)
  if v == nil then return false, err end
  return true, v
end

-- Call the control endpoint; raises on transport errors and HTTP errors. Returns the decoded answer.
function Fake:control(method, path, tbl)
  if self.stopped then error("fakecloud: the fake is stopped", 2) end
  local body
  if tbl ~= nil then body = cjson.encode(tbl) end
  if path:sub(1, 1) ~= "/" then path = "/__fake/" .. path end
  local status, headers, rbody = self:request(method, path, body)
  if not status then
    error(string.format("fakecloud: %s %s failed: %s %s", method, path, tostring(headers), tostring(rbody)), 2)
  end
  local ok, v = decode(rbody)
  if status >= 400 or not ok then
    error(string.format("fakecloud: %s %s -> %s %s", method, path, tostring(status), tostring(rbody)), 2)
  end
  return normalize(v)
end

function Fake:config(tbl)
  if tbl == nil then return self:control("GET", "/__fake/config") end
  return self:control("POST", "/__fake/config", tbl)
end

function Fake:fault(tbl)
  return self:control("POST", "/__fake/faults", tbl)
end

function Fake:faults()
  return self:control("GET", "/__fake/faults")
end

function Fake:clear_faults()
  return self:control("DELETE", "/__fake/faults")
end

function Fake:log(since)
  local path = "/__fake/log"
  if since then path = path .. "?since=" .. string.format("%d", since) end
  return self:control("GET", path)
end

function Fake:clear_log()
  return self:control("DELETE", "/__fake/log")
end

function Fake:reset(opts)
  return self:control("POST", "/__fake/reset", opts or {})
end

-- Mint a token without the OAuth flow: who = key of fakecloud.clients or an auth client id.
function Fake:token(who, expires_in)
  local id = who or "demo-client"
  if M.clients[id] then id = M.clients[id].id end
  local t = self:control("POST", "/__fake/token", { client_id = id, expires_in = expires_in })
  return t.access_token, t
end

-- Raw usage records (inclusive yyyy-MM-dd dates) for independent checks; opts.scope = "org"|"all", opts.client_id.
function Fake:data(start, stop, opts)
  opts = opts or {}
  local q = "?start=" .. start .. "&end=" .. stop .. "&scope=" .. (opts.scope or "org")
  if opts.client_id then q = q .. "&client_id=" .. opts.client_id end
  return self:control("GET", "/__fake/data" .. q)
end

function Fake:catalog()
  return self:control("GET", "/__fake/catalog")
end

function Fake:jobs()
  return self:control("GET", "/__fake/jobs")
end

function Fake:error_log()
  return read_file(self.prefix .. "/logs/error.log") or ""
end

function Fake:stop()
  return nginx.stop(self, "fakecloud%.[%w_]+$")
end

-- ---------------------------------------------------------------- start

--[[ opts:
  port        fixed port (default: a free random loopback port)
  gzip        gzip application/json answers when the client accepts it (default true)
  access_log  write logs/access.log in the prefix (default false)
  config      table passed to fake:config{} once it is up
  watchdog    stop nginx when this Lua process is gone (default true)
  daemon      true (default): nginx daemonizes; false: run it in the foreground (used by run.lua)
  log_level   error_log level (default "warn")
  nginx       nginx binary (default "nginx")
  timeout     seconds to wait for /__fake/health (default 10)
]]
function M.start(opts)
  opts = opts or {}
  load_core()
  local template = assert(read_file(M.dir .. "/nginx.conf.in"), "fakecloud: nginx.conf.in not found in " .. M.dir)
  local prefix = nginx.make_prefix("fakecloud")
  local ok, self_or_err = pcall(M._start, opts, template, prefix)
  if not ok then
    nginx.remove_dir(prefix)
    error(self_or_err, 2)
  end
  return self_or_err
end

function M._start(opts, template, prefix)
  local port, pid = nginx.start_nginx {
    prefix = prefix, port = opts.port, tries = 12, nginx = opts.nginx,
    conf = function(p)
      return nginx.render(template, {
        PREFIX = prefix, PORT = p, LUA_DIR = M.dir .. "/lua",
        GZIP = (opts.gzip == false) and "off" or "on",
        ACCESS_LOG = opts.access_log and (prefix .. "/logs/access.log") or "off",
        OWNER_PID = (opts.watchdog == false) and 0 or nginx.self_pid(),
        DAEMON = "on", LOG_LEVEL = opts.log_level or "warn",
        -- as root, keep the worker root too: it writes temp files in the prefix and runs the watchdog
        USER_LINE = nginx.running_as_root() and "user root;" or "",
      }, "fakecloud")
    end,
  }
  if not port then error("fakecloud: " .. pid, 2) end

  local self = setmetatable({
    port = port, base_url = "http://127.0.0.1:" .. port, prefix = prefix, stopped = false, pid = pid,
  }, Fake)
  self.session = core.session { user_agent = "fakecloud-launcher/1", insecure = false }
  if not nginx.wait_until_up(self.session, self.base_url .. "/__fake/health", pid, opts.timeout or 10) then
    local log = nginx.tail(read_file(prefix .. "/logs/error.log"), 20)
    self:stop()
    error("fakecloud: the fake never answered /__fake/health on " .. self.base_url .. "; error.log:\n" .. log, 2)
  end

  -- stop nginx when this object is collected (e.g. at interpreter exit)
  if newproxy then
    local guard = newproxy(true)
    getmetatable(guard).__gc = function() self:stop() end
    self._guard = guard
  else
    setmetatable(self, { __index = Fake, __gc = function(o) o:stop() end })
  end

  if opts.config then
    local ok, err = pcall(self.config, self, opts.config)
    if not ok then
      self:stop()
      error(err, 0)
    end
  end
  return self
end

return M
