-- support.sync: what the specs of genesys-usage sync share (spec/cli_sync_spec.lua,
-- spec/cli_sync_plan_spec.lua):
--   local sync = require "support.sync"
--   sync.PROFILES                    -- a gc CLI profile file with two orgs: acme and globex (the fake's clients)
--   sync.profiles(t, name)           -- a HOME under t holding that file (mode 600) -> its path
--   sync.esc(s)                      -- s as a Lua pattern that matches it literally
--   sync.sqlite(path, sql)           -- the sqlite3 shell's output of sql on the file
--   sync.served()                    -- first, last, count: the whole days the service serves now
--   sync.pg_store(pg, role, db, pw)  -- a PostgreSQL database owned by a role with that password -> its URL
--   sync.run(t, args, opts)          -- t:run of "sync --poll-interval 0.01" and args
local nginx = require "support.nginx"
local interval = require "usage.base.interval"
local window = require "usage.api.window"

local M = {}

M.PROFILES = table.concat({
  "[acme]", 'client_credentials = "demo-client"', 'client_secret = "demo-secret"',
  "[globex]", 'client_credentials = "org-viewer"', 'client_secret = "org-viewer-secret"', "",
}, "\n")

function M.profiles(t, name)
  local home = t:path(name)
  assert(nginx.run("mkdir -p " .. nginx.sh_quote(home .. "/.gc")))
  nginx.write_file(home .. "/.gc/config.toml", M.PROFILES)
  assert(nginx.run("chmod 600 " .. nginx.sh_quote(home .. "/.gc/config.toml")))
  return home
end

function M.esc(s) return (s:gsub("%p", "%%%0")) end

function M.sqlite(path, sql)
  local p = io.popen("sqlite3 -batch -noheader " .. nginx.sh_quote(path) .. " " .. nginx.sh_quote(sql) .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

function M.served()
  local now = os.time()
  local first, last = window.first_allowed_day(now), interval.day_of(now) - 1
  return first, last, last - first + 1
end

function M.pg_store(pg, role, db, password)
  pg:role(role, password)
  pg:database(db)
  pg:psql(db, "ALTER DATABASE " .. db .. " OWNER TO " .. role .. "; ALTER SCHEMA public OWNER TO " .. role)
  return "postgresql://" .. role .. ":" .. password .. "@127.0.0.1:" .. pg.port .. "/" .. db
end

function M.run(t, args, opts)
  local argv = { "sync", "--poll-interval", "0.01" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  return t:run(argv, opts)
end

return M
