-- usage.store: a history of usage that outlives the API's one-year window, over LuaDBI: a SQLite file (the
-- default) or a PostgreSQL database, one API for both.
--
--   local store = require "usage.store"
--   local s = assert(store.open())                         -- $XDG_DATA_HOME/genesys-usage/usage.sqlite3
--   local s = assert(store.open("/var/lib/usage.sqlite3"))   -- a file
--   local s = assert(store.open("postgresql://usage:secret@db.example.com:5432/usage"))
--   local summary = assert(s:sync(client, { org = "acme" }))  -- backfill, then only what is new
--   local r = assert(s:usage { first = "2025-01-01", last = "2025-12-31", by = "client", per = "month" })
--   s:close()
--
-- store.open(target [, opts]) -> store | nil, err
--   target  nil (the default file), a path, or a postgresql:// (postgres://) URL; ?host=/socket/dir for a
--           Unix socket; libpq parameters (sslmode, connect_timeout, ...) in the query
--   opts    readonly (false), create (true: a missing file or an empty database becomes a store),
--           busy_timeout (10 s: how long SQLite waits for another program's lock), lock_wait (30 s: how long
--           a sync waits for another sync), stale_after (3600 s: a sync lock from another host without a
--           heartbeat for that long is taken over), connect_timeout (10 s, PostgreSQL),
--           pragmas ({ name = value }, SQLite, e.g. { cache_size = -64000 })
-- Bad arguments raise (programmer errors); everything else returns nil, err (usage.base.errors: code, message).
-- Methods (docs/store.md has them all): close, sync, sync_plan, sync_orgs, put, usage, coverage, orgs, client_names,
-- schema_version; fields backend ("sqlite" | "postgresql"), where (the file, or the URL without password).

local errors = require "usage.base.errors"
local redact = require "usage.base.redact"
local interval = require "usage.base.interval"
local params = require "usage.api.params"
local client_mod = require "usage.client"
local runtime = require "usage.runtime"
local target_mod = require "usage.store.target"
local db_mod = require "usage.store.db"
local schema = require "usage.store.schema"
local mutex = require "usage.store.mutex"
local write = require "usage.store.write"
local read = require "usage.store.read"
local sync = require "usage.store.sync"
local lock = require "usage.store.lock"

local M = {}

M.SCHEMA_VERSION = schema.LATEST
M.default_path = target_mod.default_path
M.GROUP_BY = sync.GROUP_BY

local Store = {}
Store.__index = Store
Store.__name = "usage.store"

local LIBRARY = "genesys-usage " .. tostring(client_mod.VERSION)

local OPTION_TYPES = {
  readonly = "boolean", create = "boolean", busy_timeout = "number", lock_wait = "number", stale_after = "number",
  connect_timeout = "number", pragmas = "table",
}
local DEFAULTS = { readonly = false, create = true, busy_timeout = 10, lock_wait = 30, stale_after = 3600,
                   connect_timeout = 10 }

local function check_options(fname, opts, types, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(fname .. ": options must be a table", level + 1) end
  for k, v in pairs(opts) do
    local want = types[k]
    if not want then
      local names = {}
      for n in pairs(types) do names[#names + 1] = n end
      table.sort(names)
      error(string.format("%s: option '%s' is unknown (known: %s)", fname, tostring(k), table.concat(names, ", ")),
            level + 1)
    end
    if type(v) ~= want then
      error(string.format("%s: option '%s' must be a %s, not a %s", fname, k, want, type(v)), level + 1)
    end
    if want == "number" and (v ~= v or v < 0 or v == math.huge) then
      error(string.format("%s: option '%s' must be a number >= 0", fname, k), level + 1)
    end
  end
  return opts
end

local function pragma_list(pragmas)
  local out = {}
  for name, value in pairs(pragmas or {}) do
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
      error("store.open: opts.pragmas: a pragma name must be a plain word", 3)
    end
    if not (type(value) == "number" and value == math.floor(value)) and
       not (type(value) == "string" and value:match("^[%w_]+$")) then
      error("store.open: opts.pragmas." .. name .. " must be a whole number or a plain word", 3)
    end
    out[#out + 1] = { name, type(value) == "number" and string.format("%d", value) or value }
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

local function fail(where, redactor, code, message)
  return nil, errors.new { code = code, message = redactor:text(message), store = where }
end

-- open(target [, opts]) -> store | nil, err
function M.open(target, opts)
  if target ~= nil and type(target) ~= "string" then
    error("store.open: the target must be a path, a postgresql:// URL or nil (the default file), not a " ..
          type(target), 2)
  end
  opts = check_options("store.open", opts, OPTION_TYPES, 2)
  local o = {}
  for k, v in pairs(DEFAULTS) do o[k] = v end
  for k, v in pairs(opts) do o[k] = v end
  o.pragma_list = pragma_list(o.pragmas)

  local backend, t, is_default = target_mod.classify(target)
  local redactor, where, dialect, conn, code, message
  if not backend then
    redactor = redact.new()
    return fail("?", redactor, "bad_target", t)
  end
  if backend == "sqlite" then
    redactor, where = redact.new(), t
    dialect = require "usage.store.sqlite"
    conn, code, message = dialect.connect(t, o, is_default)
  else
    redactor, where = t.redactor, t.display
    if next(o.pragma_list) then error("store.open: opts.pragmas is for SQLite stores", 2) end
    dialect = require "usage.store.postgresql"
    conn, code, message = dialect.connect(t, o)
  end
  if not conn then return fail(where, redactor, code, message) end
  local db = db_mod.wrap(conn, dialect, redactor, where)
  db.busy_timeout = o.busy_timeout
  local self = setmetatable({
    backend = backend, where = where, readonly = o.readonly, opts = o, db = db,
    mutex = mutex.new(), keys = { orgs = {}, clients = {}, endpoints = {} }, closed = false,
  }, Store)
  db.on_rollback = function() self:forget_keys() end
  local ok, err = dialect.setup(db, o)
  if ok then
    ok, err = schema.migrate(db, LIBRARY, lock.iso(os.time()), o.readonly)
  end
  if not ok then
    db:close()
    if err.code == "not_a_store" and backend == "sqlite" then
      err.message = t .. ": " .. err.message
    end
    return nil, err
  end
  self.version = ok
  -- close the connection when the store is collected (tables get __gc on Lua 5.2+, a proxy on LuaJIT)
  if newproxy then -- luacheck: ignore
    local guard = newproxy(true) -- luacheck: ignore
    getmetatable(guard).__gc = function() self:close() end
    self._guard = guard
  end
  return self
end

function Store:__tostring()
  return string.format("usage.store (%s %s%s%s)", self.backend, self.where, self.readonly and ", read-only" or "",
                       self.closed and ", closed" or "")
end

-- close() -> true (the first time) | false: idempotent; a sync lock still held is released
function Store:close()
  if self.closed then return false end
  self.closed = true
  pcall(lock.release, self)
  self.db:close()
  return true
end
Store.__gc = function(self) self:close() end
Store.__close = function(self) self:close() end

function Store:forget_keys()
  self.keys = { orgs = {}, clients = {}, endpoints = {} }
end

function Store:schema_version()
  return self.version
end

local function pack(...) return { n = select("#", ...), ... } end

-- reading(fn) -> fn's results, the connection held (a sync may share it inside usage.gather)
function Store:reading(fn)
  if self.closed then return self.db:fail("closed", "the store is closed") end
  local ok, err = self.mutex:lock()
  if not ok then return nil, err end
  local res = pack(pcall(fn))
  if not res[1] and self.db.in_tx then self.db:rollback() end -- a raise leaves no transaction open
  self.mutex:unlock()
  if not res[1] then error(res[2], 0) end
  return (table.unpack or unpack)(res, 2, res.n)
end

local function writable(self)
  if self.closed then return self.db:fail("closed", "the store is closed") end
  if self.readonly then return self.db:fail("readonly", "the store " .. self.where .. " was opened read-only") end
  return true
end

local function check_org(fname, org)
  if type(org) ~= "string" or org == "" or #org > 200 or org:find("%c") then
    error(fname .. ": the org label must be a non-empty string (at most 200 bytes, no control characters)", 3)
  end
end

---------------------------------------------------------------------------------------------------
-- writing

-- with the sync lock held (taken here unless this store already holds it)
local function locked(self, purpose, fn)
  local ok, err = writable(self)
  if not ok then return nil, err end
  if self.lock_token then return fn() end
  local token, lerr = self:reading(function() return lock.acquire(self, purpose) end)
  if not token then return nil, lerr end
  local res = pack(pcall(fn))
  self:reading(function() lock.release(self) return true end)
  if not res[1] then error(res[2], 0) end
  return (table.unpack or unpack)(res, 2, res.n)
end

-- put(org, first, last, rows) -> { days, added, replaced, rows } | nil, err: the rows (API rows of either
-- generation, as the API answered them) are the whole content of the org's days first..last (both
-- "YYYY-MM-DD"), replacing what the store had, in one transaction, under the store's sync lock
function Store:put(org, first, last, rows)
  check_org("store:put", org)
  if type(rows) ~= "table" then error("store:put: rows must be an array of rows", 2) end
  local a, b = read.span_of({ first = first, last = last }, "store:put")
  if not a then return self.db:fail("bad_span", b) end
  return locked(self, "put of org " .. org, function() return self:reading(function()
    local org_key, kerr = write.org_key(self, org, lock.iso(os.time()))
    if not org_key then return nil, kerr end
    local w = write.new(self, org_key, a, b)
    local bok, berr = w:begin()
    if not bok then return nil, berr end
    local aok, aerr = w:add(rows)
    if not aok then return w:abort(aerr) end
    return w:finish(lock.iso(os.time()), function() return lock.heartbeat(self) end)
  end) end)
end

local SYNC_TYPES = { org = "string", now = "number", refresh_days = "number", on_progress = "function",
                     first = "string", page_size = "number", poll = "table", concurrency = "number" }

local function sync_options(fname, opts, need_org)
  opts = check_options(fname, opts, SYNC_TYPES, 3)
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  if need_org then check_org(fname, o.org) elseif o.org ~= nil then check_org(fname, o.org) end
  o.refresh_days = o.refresh_days or sync.DEFAULT_REFRESH_DAYS
  if o.refresh_days ~= math.floor(o.refresh_days) then error(fname .. ": refresh_days must be a whole number", 3) end
  o.concurrency = o.concurrency or sync.DEFAULT_CONCURRENCY
  if o.concurrency < 1 or o.concurrency ~= math.floor(o.concurrency) then
    error(fname .. ": concurrency must be a whole number >= 1", 3)
  end
  if o.first and not interval.parse_date(o.first) then error(fname .. ": first must be a day YYYY-MM-DD", 3) end
  if o.page_size ~= nil then -- the flows' page_size: the aggregates read's pageSize entry
    local _, why = params.entries.pageSize.check(o.page_size)
    if why then error(fname .. ": page_size " .. why, 3) end
  end
  return o
end

local function check_client(fname, client)
  if type(client) ~= "table" or type(client.aggregates) ~= "function" then
    error(fname .. ": expects a client made by usage.new", 3)
  end
end

-- sync(client, opts) -> summary | nil, err (err.summary: what was stored before the failure)
--   opts.org (required) the label of the client's organization in the store; now (Unix time, default the
--   clock); refresh_days (3); first ("YYYY-MM-DD": no earlier day, default the first the service serves);
--   on_progress(p); page_size (1000); poll (the client's poll options); concurrency (8 jobs at a time)
-- summary = { org, first, last, label, days_planned, days_added, days_replaced, rows, jobs, jobs_failed,
--             status ("ok"|"failed"|"interrupted"), elapsed, sync_id, failed = { {first, last, error, job_id} },
--             skipped = { {first, last, reason} } (jobs never started: an interrupt) }
function Store:sync(client, opts)
  check_client("store:sync", client)
  local o = sync_options("store:sync", opts, true)
  return locked(self, "sync of org " .. o.org, function() return sync.one(self, client, o) end)
end

-- sync_plan(opts) -> plan | nil, err: what sync would fetch now for opts.org (opts as for sync: org, now,
-- refresh_days, first; the others are ignored), read from the store without the sync lock and without
-- writing anything (a store opened read-only will do); usage.store.sync.preview has the plan's fields
function Store:sync_plan(opts)
  local o = sync_options("store:sync_plan", opts, true)
  if self.closed then return self.db:fail("closed", "the store is closed") end
  return sync.preview(self, o)
end

-- sync_orgs(list, opts) -> summaries, errs: several orgs at once (usage.gather), one client each:
-- list = { { client = c1, org = "acme" }, { client = c2, org = "globex", first = ... }, ... }; opts as for
-- sync (without org), shared; summaries[i], errs[i] as sync returns them for list[i]
function Store:sync_orgs(list, opts)
  if type(list) ~= "table" then error("store:sync_orgs: expects an array of { client =, org = }", 2) end
  local base = sync_options("store:sync_orgs", opts, false)
  local seen, jobs, labels = {}, {}, {}
  for i, item in ipairs(list) do
    if type(item) ~= "table" then error("store:sync_orgs: item " .. i .. " is not a table", 2) end
    check_client("store:sync_orgs", item.client)
    check_org("store:sync_orgs", item.org)
    if seen[item.org] then error("store:sync_orgs: the org '" .. item.org .. "' is listed twice", 2) end
    seen[item.org] = true
    local o = {}
    for k, v in pairs(base) do o[k] = v end
    o.org = item.org
    if item.first ~= nil then
      if type(item.first) ~= "string" or not interval.parse_date(item.first) then
        error("store:sync_orgs: item " .. i .. ": first must be a day YYYY-MM-DD", 2)
      end
      o.first = item.first
    end
    jobs[i] = function() return sync.one(self, item.client, o) end
    labels[i] = item.org
  end
  local results, errs = {}, {}
  local ok, err = locked(self, "sync of orgs " .. table.concat(labels, ", "), function()
    results, errs = runtime.gather(jobs)
    return true
  end)
  if not ok then
    for i = 1, #list do errs[i] = err end
  end
  return results, errs
end

---------------------------------------------------------------------------------------------------
-- reading (usage.store.read)

function Store:usage(opts) return read.usage(self, opts, "store:usage") end
function Store:usage_many(list) return read.usage_many(self, list, "store:usage_many") end
function Store:coverage(opts) return read.coverage(self, opts, "store:coverage") end
function Store:orgs() return read.orgs(self) end
function Store:client_names(opts) return read.client_names(self, opts) end

-- sql(text, ...) -> rows (arrays of the columns) | nil, err: plain SQL with bound parameters, for what the
-- methods do not answer; integers come back as the drivers give them (cast them to text for exact figures).
-- What it changes is the caller's business: the store's rules (whole days, the sync lock) are not applied.
function Store:sql(text, ...)
  if type(text) ~= "string" then error("store:sql: expects SQL text", 2) end
  local params = pack(...)
  return self:reading(function()
    return self.db:rows(text, (table.unpack or unpack)(params, 1, params.n))
  end)
end

M.Store = Store

return M
