-- Run the fake Genesys Cloud in the foreground until Ctrl-C / SIGTERM (make fake FAKE_PORT=8089).
--   lua5.4 spec/fakecloud/run.lua [--port N] [--no-gzip] [--access-log] [--config JSON] [--url-file FILE]
-- Works under lua5.4 and luajit; finds spec/ and build/<interpreter>/ relative to this file.

local here = debug.getinfo(1, "S").source:gsub("^@", ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/../?.lua;" .. here .. "/../?/init.lua;" .. package.path
local interp = (type(jit) == "table") and "luajit" or "lua5.4"
package.cpath = here .. "/../../build/" .. interp .. "/?.so;" .. package.cpath

local fakecloud = require "fakecloud"
local nginx = require "support.nginx"

local opts = { port = tonumber(os.getenv("FAKE_PORT") or ""), gzip = true }
local config_json, url_file
local i = 1
while i <= #arg do
  local a = arg[i]
  if a == "--port" then
    i = i + 1
    opts.port = tonumber(arg[i]) or error("--port needs a number")
  elseif a == "--no-gzip" then
    opts.gzip = false
  elseif a == "--access-log" then
    opts.access_log = true
  elseif a == "--config" then
    i = i + 1
    config_json = arg[i]
  elseif a == "--url-file" then
    i = i + 1
    url_file = arg[i]
  elseif a == "-h" or a == "--help" then
    print("usage: run.lua [--port N] [--no-gzip] [--access-log] [--config JSON] [--url-file FILE]")
    os.exit(0)
  else
    io.stderr:write("run.lua: unknown argument " .. a .. "\n")
    os.exit(2)
  end
  i = i + 1
end
if opts.port == 0 then opts.port = nil end
if config_json then opts.config = require("cjson").new().decode(config_json) end

local fake = fakecloud.start(opts)
local demo = fakecloud.clients.demo
io.stdout:write(([[
fake Genesys Cloud running at %s  (nginx master pid %d, prefix %s)
  demo client: id %s  secret %s   (others: org-viewer, client-viewer, search-viewer, no-perms; secret = id .. "-secret")
  control:     %s/__fake/{health,config,faults,log,reset,catalog,data,token,jobs}
export GENESYSCLOUD_OAUTHCLIENT_ID=%s
export GENESYSCLOUD_OAUTHCLIENT_SECRET=%s
# then e.g.: bin/genesys-usage aggregates --last 7d --base-url %s
Press Ctrl-C to stop.
]]):format(fake.base_url, fake.pid, fake.prefix, demo.id, demo.secret, fake.base_url, demo.id, demo.secret,
  fake.base_url))
io.stdout:flush()
if url_file then
  local fh = assert(io.open(url_file, "w"))
  fh:write(fake.base_url, "\n")
  fh:close()
end

-- os.execute ignores SIGINT in this process while the child runs; the child (sleep) dies of it instead.
local ok, err = pcall(function()
  while true do
    local r1, r2, r3 = os.execute("sleep 1")
    local interrupted = (r1 ~= true and r1 ~= 0) or r2 == "signal"
    if interrupted then break end
    if not nginx.pid_alive(fake.pid) then
      io.stderr:write("run.lua: nginx exited; error.log:\n" .. fake:error_log() .. "\n")
      break
    end
  end
end)
fake:stop()
io.stdout:write("\nfake stopped\n")
if not ok and not tostring(err):find("interrupted") then
  io.stderr:write(tostring(err) .. "\n")
  os.exit(1)
end
