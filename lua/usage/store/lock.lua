-- usage.store.lock: two syncs of one store never interleave.
--   SQLite: a row in sync_lock (token, host, pid, the pid's start time, start, heartbeat, purpose), taken
--   inside BEGIN IMMEDIATE. A holder is stale when it ran on this host and its process is gone (or the
--   pid now belongs to another process), or, from another host, when its heartbeat is older than
--   stale_after seconds; a stale lock is taken over.
--   PostgreSQL: a session advisory lock (the server releases it when the holder's connection ends), and the
--   same row, which says who holds it.
-- A sync that finds the store held waits up to lock_wait seconds (polling, interruptible), then fails with
-- code "locked" and a message that says what holds the store.

local core = require "usage.core"
local runtime = require "usage.runtime"

local M = {}

local PG_KEY = "7160118533462402818" -- pg_try_advisory_lock key of the sync lock

local function read_file(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local s = fh:read("*a")
  fh:close()
  return s
end

-- the start time of a process (clock ticks since boot, /proc/PID/stat field 22) | nil
local function start_time(pid)
  local s = read_file("/proc/" .. tostring(pid) .. "/stat")
  if not s then return nil end
  local rest = s:match("%)%s+(.*)$")
  if not rest then return nil end
  local i = 0
  for field in rest:gmatch("%S+") do
    i = i + 1
    if i == 20 then return field end -- fields after the command name start at field 3
  end
  return nil
end

local me_cache
-- me() -> { host, pid, pid_start }
function M.me()
  if me_cache then return me_cache end
  local pid = tonumber((read_file("/proc/self/stat") or ""):match("^(%d+)"))
  local host = (read_file("/proc/sys/kernel/hostname") or os.getenv("HOSTNAME") or ""):gsub("%s+$", "")
  if host == "" then
    local p = io.popen("uname -n 2>/dev/null")
    host = p and (p:read("*l") or "") or ""
    if p then p:close() end
  end
  me_cache = { host = host ~= "" and host or "unknown-host", pid = pid, pid_start = pid and start_time(pid) }
  return me_cache
end

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end
M.iso = iso

local function parse_iso(s)
  local y, mo, d, h, mi, se = tostring(s):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
  if not y then return nil end
  local interval = require "usage.base.interval"
  return interval.days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + h * 3600 + mi * 60 + se
end

-- stale(holder, opts) -> true, why | false
function M.stale(holder, opts)
  local me = M.me()
  if holder.host == me.host and holder.pid then
    local st = start_time(holder.pid)
    if not st then return true, "its process " .. holder.pid .. " is gone" end
    if holder.pid_start and st ~= holder.pid_start then return true, "pid " .. holder.pid .. " is another process now" end
    return false
  end
  local beat = parse_iso(holder.heartbeat_at)
  if beat and os.time() - beat > opts.stale_after then
    return true, "its last heartbeat is older than " .. opts.stale_after .. " s"
  end
  return false
end

local function describe(holder)
  if not holder then return "another program holds a write lock on it" end
  return string.format("a sync (%s) holds it: pid %s on host %s since %s, last heartbeat %s", holder.purpose,
                       tostring(holder.pid or "?"), holder.host, holder.started_at, holder.heartbeat_at)
end
M.describe = describe

local COLUMNS = "token, host, CAST(pid AS TEXT), pid_start, started_at, heartbeat_at, purpose"

local function holder_of(row)
  if not row then return nil end
  return { token = row[1], host = row[2], pid = tonumber(row[3]), pid_start = row[4], started_at = row[5],
           heartbeat_at = row[6], purpose = row[7] }
end

local UPSERT = "INSERT INTO sync_lock (id, token, host, pid, pid_start, started_at, heartbeat_at, purpose) " ..
  "VALUES (1, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET token = excluded.token, host = excluded.host, " ..
  "pid = excluded.pid, pid_start = excluded.pid_start, started_at = excluded.started_at, " ..
  "heartbeat_at = excluded.heartbeat_at, purpose = excluded.purpose"

local function upsert(db, me)
  return db:exec(UPSERT, me.token, me.host, me.pid and tostring(me.pid) or nil, me.pid_start, me.started_at,
                 me.started_at, me.purpose)
end

-- one try: true | false, holder (or nil: a writer without a row), why-not-stale | nil, err
local function try_sqlite(db, me, opts)
  local held, holder
  local ok, err = db:transaction(function()
    local row, rerr = db:one("SELECT " .. COLUMNS .. " FROM sync_lock WHERE id = 1")
    if row == nil then return nil, rerr end
    holder = holder_of(row or nil)
    if holder and not M.stale(holder, opts) then
      held = true
      return true
    end
    local uok, uerr = upsert(db, me)
    if not uok then return nil, uerr end
    return true
  end)
  if not ok then
    if err.code == "busy" then return false, nil end
    return nil, err
  end
  if held then return false, holder end
  return true, holder -- (holder: the stale one taken over)
end

local function try_postgresql(db, me)
  local row, err = db:one("SELECT pg_try_advisory_lock(CAST(? AS bigint))", PG_KEY)
  if not row then return nil, err end
  if row[1] == true or row[1] == "t" then
    local ok, uerr = upsert(db, me)
    if not ok then
      db:exec("SELECT pg_advisory_unlock(CAST(? AS bigint))", PG_KEY)
      return nil, uerr
    end
    return true
  end
  local hrow, herr = db:one("SELECT " .. COLUMNS .. " FROM sync_lock WHERE id = 1")
  if hrow == nil then return nil, herr end
  return false, holder_of(hrow or nil)
end

-- acquire(store, purpose) -> token | nil, err
function M.acquire(store, purpose)
  local db, opts = store.db, store.opts
  local who = M.me()
  local me = { token = string.format("%s:%s:%d:%06d", who.host, tostring(who.pid), os.time(), math.random(0, 999999)),
               host = who.host, pid = who.pid, pid_start = who.pid_start, started_at = iso(os.time()),
               purpose = purpose }
  local t0 = core.now()
  local deadline = t0 + opts.lock_wait
  local rt = runtime.current()
  while true do
    local got, holder
    if db.dialect.name == "sqlite" then got, holder = try_sqlite(db, me, opts) else got, holder = try_postgresql(db, me) end
    if got == nil then return nil, holder end
    if got then
      store.lock_token = me.token
      return me.token
    end
    local now = core.now()
    if now >= deadline then
      return db:fail("locked", string.format("the store %s is busy: %s; waited %g s (lock_wait)%s", store.where,
                     describe(holder), opts.lock_wait,
                     (holder and holder.host ~= who.host) and string.format("; a holder on another host that " ..
                       "stops without releasing the lock is taken over %g s after its last heartbeat (stale_after)",
                       opts.stale_after) or ""), { holder = holder })
    end
    local ok, serr = (rt and rt.sleep or core.sleep)(math.min(0.2, deadline - now))
    if rt and not ok then return nil, serr end
  end
end

-- heartbeat(store) -> true | nil, err: refreshes the lock row; "lost_lock" when it is no longer ours
function M.heartbeat(store)
  local db = store.db
  local st, err = db:exec("UPDATE sync_lock SET heartbeat_at = ? WHERE id = 1 AND token = ?", iso(os.time()),
                          store.lock_token or "")
  if not st then return nil, err end
  local ok, n = pcall(st.affected, st)
  if ok and tonumber(n) == 0 then
    return db:fail("lost_lock", "the store's sync lock was taken over by another sync (this one was judged stale)")
  end
  return true
end

-- release(store): best effort
function M.release(store)
  local db, token = store.db, store.lock_token
  if not token or not db.conn then return end
  store.lock_token = nil
  db:exec("DELETE FROM sync_lock WHERE id = 1 AND token = ?", token)
  if db.dialect.name == "postgresql" then db:exec("SELECT pg_advisory_unlock(CAST(? AS bigint))", PG_KEY) end
end

return M
