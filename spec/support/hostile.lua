-- support.hostile: a scriptable hostile server for the specs (nginx + ngx_http_lua, one worker, 127.0.0.1
-- only). A spec gives it a Lua script that decides every answer (see spec/support/hostile_server.lua):
--
--   local hostile = require "support.hostile"
--   local srv = hostile.start()
--   srv:script [[ return function(req, state)
--     return 200, { ["ININ-Correlation-Id"] = req.headers.authorization }, '{"access_token":"t0k3n"}'
--   end ]]
--   ... usage.new { base_url = srv.base_url, ... } ...
--   srv:log()        -- the requests it saw: { method, path, query, headers, body }
--   srv:stop()       -- by PID; also when the spec process dies (watchdog)
-- A failing spec can print srv:diagnostics() (its error.log and request log).

local core = require "usage.core"
local nginx = require "support.nginx"
local cjson = require("cjson").new()

local M = {}

local here = nginx.absolute(nginx.dirname((debug.getinfo(1, "S").source:gsub("^@", ""))))  -- .../spec/support
local repo = nginx.dirname(nginx.dirname(here))

local CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
@USER_LINE@
worker_processes 1;
daemon on;
master_process on;
pid @PREFIX@/logs/nginx.pid;
error_log @PREFIX@/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path @PREFIX@/temp/client_body;
  proxy_temp_path @PREFIX@/temp/proxy;
  fastcgi_temp_path @PREFIX@/temp/fastcgi;
  uwsgi_temp_path @PREFIX@/temp/uwsgi;
  scgi_temp_path @PREFIX@/temp/scgi;
  large_client_header_buffers 4 64k;
  lua_package_path "@SUPPORT@/?.lua;@REPO@/spec/fakecloud/lua/?.lua;;";
  lua_socket_log_errors off;
  init_by_lua_block { require "hostile_server" }
  init_worker_by_lua_block { require("fake.watchdog").start(@OWNER_PID@, "@PREFIX@", "hostile") }
  server {
    listen 127.0.0.1:@PORT@;
    location /__hostile/ { content_by_lua_block { require("hostile_server").control() } }
    location / { content_by_lua_block { require("hostile_server").handle() } }
  }
}
]]

local Server = {}
Server.__index = Server

local function control(self, method, path, body)
  local status, _, rbody = self.session:request {
    method = method, url = self.base_url .. path, body = body, timeout = 10, connect_timeout = 2,
    headers = body and { ["content-type"] = "text/plain" } or nil,
  }
  local ok, value = pcall(cjson.decode, rbody or "")
  if status ~= 200 or not ok then
    error(string.format("hostile: %s %s -> %s %s", method, path, tostring(status), tostring(rbody)), 3)
  end
  return value
end

-- script(source): the Lua source of function(req, state) -> answer (replaces the previous script and log)
function Server:script(source)
  return control(self, "POST", "/__hostile/script", source)
end

function Server:log()
  return control(self, "GET", "/__hostile/log")
end

function Server:error_log()
  return nginx.read_file(self.prefix .. "/logs/error.log") or ""
end

-- what a failing spec should print: the server's error log and the requests it saw
function Server:diagnostics()
  local ok, log = pcall(self.log, self)
  local lines = {}
  if ok then
    for i, e in ipairs(log) do
      lines[i] = string.format("  %s %s%s", e.method, e.path, e.query ~= "" and ("?" .. e.query) or "")
    end
  end
  return "hostile server " .. self.base_url .. " error.log:\n" .. nginx.tail(self:error_log(), 30) ..
         "\nrequests:\n" .. (ok and table.concat(lines, "\n") or tostring(log))
end

function Server:stop()
  return nginx.stop(self, "hostile%.[%w_]+$")
end

-- with_login(token, api) -> the source of a script that answers the token endpoint with `token` and every
-- other request with `api` (Lua source of a chunk returning function(req, state)); TOKEN is a global of it
function M.with_login(token, api)
  return [[
local TOKEN = ]] .. string.format("%q", token) .. [[
local api = (function() ]] .. api .. [[ end)()
return function(req, state)
  if req.path == "/oauth/token" then
    return 200, nil, '{"access_token":"' .. TOKEN .. '","token_type":"bearer","expires_in":3600}'
  end
  return api(req, state)
end]]
end

function M.start()
  local prefix = nginx.make_prefix("hostile")
  local port, pid = nginx.start_nginx {
    prefix = prefix, tries = 12,
    conf = function(p)
      return nginx.render(CONF, {
        PREFIX = prefix, PORT = p, SUPPORT = here, REPO = repo, OWNER_PID = nginx.self_pid(),
        USER_LINE = nginx.running_as_root() and "user root;" or "",
      }, "hostile")
    end,
  }
  if not port then
    nginx.remove_dir(prefix)
    error("hostile: " .. tostring(pid), 2)
  end
  local self = setmetatable({ port = port, pid = pid, prefix = prefix, base_url = "http://127.0.0.1:" .. port,
                              origin = "http://127.0.0.1:" .. port }, Server)
  self.session = core.session {}
  if not nginx.wait_until_up(self.session, self.base_url .. "/__hostile/health", pid, 10) then
    local tail = nginx.logs_tail(prefix, 20)
    self:stop()
    error("hostile: the server never came up:\n" .. tail, 2)
  end
  return self
end

return M
