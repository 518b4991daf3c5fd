-- support.postgres: a private PostgreSQL server for the specs (Debian's postgresql package): initdb and
-- pg_ctl in a temporary directory, listening on a free loopback port and a socket in that directory,
-- stopped by its PID when the spec is done. PostgreSQL refuses to run as root, so as root (CI) the server
-- runs as the `postgres` user (runuser) in a directory it owns. No server binaries: an error saying so
-- (a spec that needs PostgreSQL fails, never pends).
--
--   local postgres = require "support.postgres"
--   local pg = postgres.start()           -- raises with the reason and the server's log on failure
--   local url = pg:database("t1")         -- CREATE DATABASE t1 -> "postgresql://postgres@127.0.0.1:PORT/t1"
--   pg:psql("t1", "SELECT 1")             -- -> output (raises on failure)
--   pg:stop()                             -- fast shutdown by PID, directory removed; idempotent
-- pg.port, pg.dir, pg.socket_dir, pg.pid, pg.bindir, pg:log()

local nginx = require "support.nginx"

local M = {}

local sh_quote, run, read_file = nginx.sh_quote, nginx.run, nginx.read_file

-- the directory of initdb/pg_ctl/postgres/psql (the newest Debian version), or nil, why
function M.bindir()
  local p = io.popen("ls -d /usr/lib/postgresql/*/bin 2>/dev/null")
  local best, best_v
  for dir in p:lines() do
    local v = tonumber(dir:match("/postgresql/(%d+)"))
    if v and (not best_v or v > best_v) and read_file(dir .. "/initdb") ~= nil and read_file(dir .. "/pg_ctl") then
      best, best_v = dir, v
    end
  end
  p:close()
  if best then return best end
  -- elsewhere: pg_config knows
  p = io.popen("pg_config --bindir 2>/dev/null")
  local dir = p:read("*l")
  p:close()
  if dir and read_file(dir .. "/initdb") and read_file(dir .. "/pg_ctl") then return dir end
  return nil, "no PostgreSQL server binaries (initdb, pg_ctl) were found in /usr/lib/postgresql/*/bin nor by " ..
              "pg_config: install them (Debian: apt-get install postgresql, or `make deps`)"
end

local PG = {}
PG.__index = PG

-- a shell command run as the server's owner
function PG:as_owner(cmd)
  if self.runuser then return "runuser -u postgres -- sh -c " .. sh_quote(cmd) end
  return cmd
end

function PG:log()
  return read_file(self.dir .. "/server.log") or ""
end

-- sh(cmd) -> output; raises with the output when the command fails
local function sh(cmd, what, pg)
  local out_file = os.tmpname()
  local ok = run(cmd .. " >" .. sh_quote(out_file) .. " 2>&1")
  local out = read_file(out_file) or ""
  os.remove(out_file)
  if not ok then
    error(string.format("support.postgres: %s failed:\n%s%s", what, out,
                        pg and ("\nserver log:\n" .. nginx.tail(pg:log(), 30)) or ""), 3)
  end
  return out
end

-- psql(db, sql) -> output (unaligned, tuples only); raises on failure
function PG:psql(db, sql)
  return sh(self:as_owner(sh_quote(self.bindir .. "/psql") .. " -X -q -A -t -v ON_ERROR_STOP=1 -h " ..
            sh_quote(self.socket_dir) .. " -p " .. self.port .. " -U postgres -d " .. sh_quote(db) .. " -c " ..
            sh_quote(sql)), "psql " .. sql, self)
end

-- sql(statement) -> true: one statement on the server's postgres database, through LuaDBI (no process to
-- start: faster than psql); raises on failure
function PG:sql(statement)
  if not self.admin then
    local dbd = require "dbd.postgresql"
    local conn, err = dbd.New("postgres", "postgres", nil, self.socket_dir, self.port)
    if not conn then error("support.postgres: cannot connect as postgres: " .. tostring(err), 2) end
    conn:autocommit(true)
    self.admin = conn
    self:sql("SET client_min_messages = warning")
  end
  local st, err = self.admin:prepare(statement)
  local ok = st and st:execute()
  if not ok then error("support.postgres: " .. statement .. ": " .. tostring(err), 2) end
  if st then st:close() end
  return true
end

-- database(name) -> a URL of a new, empty database
function PG:database(name)
  assert(name:match("^[%w_]+$"), "support.postgres: a database name is a plain word")
  self:sql("DROP DATABASE IF EXISTS " .. name)
  self:sql("CREATE DATABASE " .. name)
  return string.format("postgresql://postgres@127.0.0.1:%d/%s", self.port, name)
end

-- role(name, password): a login role; with a password, connections of that role from loopback need it
function PG:role(name, password)
  assert(name:match("^[%w_]+$"), "support.postgres: a role name is a plain word")
  self:psql("postgres", string.format("CREATE ROLE %s LOGIN%s", name,
                                      password and (" PASSWORD '" .. password:gsub("'", "''") .. "'") or ""))
  if password then -- before the trust lines of initdb -A trust
    local hba = self.dir .. "/data/pg_hba.conf"
    local text = read_file(hba)
    nginx.write_file(hba, "host all " .. name .. " 127.0.0.1/32 scram-sha-256\n" .. text)
    sh(self:as_owner(sh_quote(self.bindir .. "/pg_ctl") .. " -D " .. sh_quote(self.dir .. "/data") .. " reload"),
       "pg_ctl reload", self)
    nginx.sleep(0.3)
  end
end

function PG:stop()
  if self.stopped then return end
  self.stopped = true
  if self.admin then pcall(self.admin.close, self.admin) end
  if self.pid and nginx.pid_alive(self.pid) then
    run("kill -INT " .. self.pid .. " 2>/dev/null") -- fast shutdown: clients are disconnected
    for _ = 1, 500 do
      if not nginx.pid_alive(self.pid) then break end
      nginx.sleep(0.02)
    end
    if nginx.pid_alive(self.pid) then run("kill -KILL " .. self.pid .. " 2>/dev/null") end
  end
  if self.watchdog then run("kill " .. self.watchdog .. " 2>/dev/null") end
  nginx.remove_dir(self.dir)
end

-- start() -> pg (raises, with the server's log, when it cannot start)
function M.start()
  local bindir, why = M.bindir()
  if not bindir then error("support.postgres: " .. why, 2) end
  local root = nginx.running_as_root()
  if root and not run("id -u postgres >/dev/null 2>&1") then
    error("support.postgres: running as root and there is no `postgres` user to run the server as " ..
          "(PostgreSQL refuses to run as root)", 2)
  end
  local dir = nginx.temp_dir("usage-pg")
  local self = setmetatable({ dir = dir, bindir = bindir, runuser = root, socket_dir = dir .. "/sock" }, PG)
  local ok, err = pcall(function()
    assert(run("mkdir -p " .. sh_quote(self.socket_dir)))
    if root then assert(run("chown -R postgres: " .. sh_quote(dir) .. " && chmod 700 " .. sh_quote(dir))) end
    sh(self:as_owner(sh_quote(bindir .. "/initdb") .. " -D " .. sh_quote(dir .. "/data") ..
       " -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync"), "initdb")
    local last
    for _ = 1, 8 do
      local port = nginx.pick_port()
      local cmd = self:as_owner(sh_quote(bindir .. "/pg_ctl") .. " -D " .. sh_quote(dir .. "/data") .. " -l " ..
        sh_quote(dir .. "/server.log") .. " -w -t 30 -o " .. sh_quote("-p " .. port .. " -k " .. self.socket_dir ..
        " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off") .. " start")
      local out_file = os.tmpname()
      local started = run(cmd .. " >" .. sh_quote(out_file) .. " 2>&1")
      last = (read_file(out_file) or "") .. nginx.tail(self:log(), 20)
      os.remove(out_file)
      if started then
        self.port = port
        break
      end
      if not last:find("in use", 1, true) then break end
    end
    if not self.port then error("support.postgres: the server did not start:\n" .. tostring(last), 0) end
    self.pid = tonumber((read_file(dir .. "/data/postmaster.pid") or ""):match("^(%d+)"))
    if not self.pid then error("support.postgres: no postmaster.pid after the start:\n" .. self:log(), 0) end
    -- a watchdog: the server stops when this Lua process is gone without stopping it
    local p = io.popen("sh -c " .. sh_quote(string.format("(while kill -0 %d 2>/dev/null && kill -0 %d 2>/dev/null; " ..
      "do sleep 1; done; kill -INT %d 2>/dev/null) >/dev/null 2>&1 </dev/null & echo $!", nginx.self_pid(), self.pid,
      self.pid)))
    self.watchdog = tonumber(p:read("*l") or "")
    p:close()
  end)
  if not ok then
    self:stop()
    error(err, 2)
  end
  return self
end

return M
