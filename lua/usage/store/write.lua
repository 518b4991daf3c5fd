-- usage.store.write: replacing days. A Writer stores the whole content of an org's days first..last in one
-- transaction: begin() deletes what the store had for those days, add(rows) inserts the rows of a page
-- (API rows of either generation, through usage.base.rows.normalize), finish() records every day of the span
-- as stored (a day with no usage too) and commits; abort() rolls everything back. So a day is in the
-- store entirely or not at all, and doing it again gives the same store.
-- Rows are data: every value is a bound parameter. Counts are checked (whole numbers, 0..2^63-1) and
-- bound exactly (usage.store.num); strings are made valid UTF-8 (usage.store.text); a row dated outside
-- the span, or with a bad count, fails the whole span (nothing of it is stored). Two rows with the same
-- key (the service splits a client's day when it was renamed that day) are added up by the database.

local rows_mod = require "usage.base.rows"
local json = require "usage.base.json"
local interval = require "usage.base.interval"
local num = require "usage.store.num"
local text = require "usage.store.text"

local M = {}

local BATCH = { sqlite = 500, postgresql = 99 } -- rows per INSERT statement (LuaDBI's PostgreSQL driver
                                            -- numbers at most 999 placeholders correctly)

local COUNT_FIELDS = { { "requestCount", "requests" }, { "status200" }, { "status300" }, { "status400" },
                       { "status429" }, { "status500" } }
local COUNT_NAMES = { "requests", "status200", "status300", "status400", "status429", "status500" }
local COLS = 10
local null = json.null
local TWO53, TWO63 = num.TWO53, 2 ^ 63
local WIDE = 2097152 -- 2^21: client and endpoint keys below it make one numeric key with the day

local normalize = rows_mod.normalize
local type, pairs, tostring = type, pairs, tostring

local function values_sql(k)
  local one = "(" .. string.rep("?", COLS, ", ") .. ")"
  return "INSERT INTO usage_rows (org_key, day, client_key, endpoint_key, requests, status200, status300, " ..
    "status400, status429, status500) VALUES " .. string.rep(one, k, ", ") ..
    " ON CONFLICT (org_key, day, client_key, endpoint_key) DO UPDATE SET " ..
    "requests = usage_rows.requests + excluded.requests, status200 = usage_rows.status200 + excluded.status200, " ..
    "status300 = usage_rows.status300 + excluded.status300, status400 = usage_rows.status400 + excluded.status400, " ..
    "status429 = usage_rows.status429 + excluded.status429, status500 = usage_rows.status500 + excluded.status500"
end

local sql_cache = {}
local function insert_sql(k)
  local s = sql_cache[k]
  if not s then
    s = values_sql(k)
    sql_cache[k] = s
  end
  return s
end

---------------------------------------------------------------------------------------------------
-- keys of orgs, clients and endpoints (cached per store; the cache is dropped on every rollback, since
-- keys made inside a rolled-back transaction are gone)

function M.org_key(store, label, now_text)
  local db = store.db
  local k = store.keys.orgs[label]
  if k then return k end
  local ok, err = db:exec("INSERT INTO orgs (label, created_at) VALUES (?, ?) ON CONFLICT (label) DO NOTHING",
                          label, now_text)
  if not ok then return nil, err end
  local row
  row, err = db:one("SELECT CAST(org_key AS TEXT) FROM orgs WHERE label = ?", label)
  if not row then return nil, err or select(2, db:fail("sql", "the org '" .. label .. "' vanished")) end
  k = tonumber(row[1])
  store.keys.orgs[label] = k
  return k
end

local function client_key(store, raw)
  local id, why = text.value(raw, "a client id")
  if not id then return nil, why end
  local db = store.db
  local ok, err = db:exec("INSERT INTO clients (client_id) VALUES (?) ON CONFLICT (client_id) DO NOTHING", id)
  if not ok then return nil, err end
  local row
  row, err = db:one("SELECT CAST(client_key AS TEXT) FROM clients WHERE client_id = ?", id)
  if not row then return nil, err end
  return tonumber(row[1])
end

local function endpoint_key(store, raw_uri, raw_method)
  local uri, why = text.value(raw_uri, "a templateUri")
  if not uri then return nil, why end
  local method, why2 = text.value(raw_method, "an httpMethod")
  if not method then return nil, why2 end
  local db = store.db
  local ok, err = db:exec("INSERT INTO endpoints (template_uri, http_method) VALUES (?, ?) " ..
                          "ON CONFLICT (template_uri, http_method) DO NOTHING", uri, method)
  if not ok then return nil, err end
  local row
  row, err = db:one("SELECT CAST(endpoint_key AS TEXT) FROM endpoints WHERE template_uri = ? AND http_method = ?",
                    uri, method)
  if not row then return nil, err end
  return tonumber(row[1])
end

-- nonzero(v): a raw count that normalize turned into 0 must have been absent, null or 0; anything else
-- (text, a boolean, a table) is not a count
local function nonzero(v)
  return v ~= nil and v ~= 0 and v ~= null
end

local function nonzero_requests(raw) -- (normalize reads requestCount, else requests)
  local v = raw.requestCount
  if v == nil then v = raw.requests end
  return nonzero(v)
end

-- check_counts(raw, n) -> true | nil, why: the slow check of a row's counts
local function check_counts(raw, n)
  for c = 1, 6 do
    local v = n[COUNT_NAMES[c]]
    local ok, why = num.check(v)
    if not ok then return nil, COUNT_FIELDS[c][1] .. " " .. why .. " (" .. tostring(v) .. ")" end
    if v == 0 then
      local f = COUNT_FIELDS[c]
      local r = raw[f[1]]
      if r == nil and f[2] then r = raw[f[2]] end
      if r ~= nil and r ~= null and r ~= 0 then
        return nil, f[1] .. " is a " .. type(r) .. " (" .. tostring(r) .. "), not a count"
      end
    end
  end
  return true
end

---------------------------------------------------------------------------------------------------

local Writer = {}
Writer.__index = Writer

-- new(store, org_key, first_day, last_day [, sync_id]) -> writer (day numbers, both included)
function M.new(store, org_key, first, last, sync_id)
  local days, index = {}, {}
  for d = first, last do
    local s = interval.date(d)
    days[#days + 1] = s
    index[s] = d - first
  end
  local sqlite = store.db.dialect.name == "sqlite"
  return setmetatable({
    store = store, db = store.db, org_key = org_key, first = first, last = last, sync_id = sync_id,
    days = days, index = index, bind = sqlite and num.sqlite or num.text, sqlite = sqlite,
    batch = BATCH[store.db.dialect.name],
    vals = {}, nvals = 0, nrows = 0, seen = {}, names = {}, rows = 0, open = false,
  }, Writer)
end

-- the store's error for a row the writer refuses (nothing of the span is stored)
function Writer:bad_row(message)
  return self.db:fail("bad_row", "a row of " .. self.days[1] .. ".." .. self.days[#self.days] .. " was refused, " ..
                      "so none of these days was stored: " .. message)
end

-- begin() -> true | nil, err: BEGIN; what the store had for these days goes
function Writer:begin()
  local db = self.db
  local ok, err = db:begin()
  if not ok then return nil, err end
  self.open = true
  local first, last = self.days[1], self.days[#self.days]
  local row
  row, err = db:one("SELECT CAST(COUNT(*) AS TEXT) FROM stored_days WHERE org_key = ? AND day >= ? AND day <= ?",
                    self.org_key, first, last)
  if not row then return self:abort(err) end
  self.replaced = tonumber(row[1])
  ok, err = db:exec("DELETE FROM usage_rows WHERE org_key = ? AND day >= ? AND day <= ?", self.org_key, first, last)
  if not ok then return self:abort(err) end
  ok, err = db:exec("DELETE FROM client_names WHERE org_key = ? AND day >= ? AND day <= ?", self.org_key, first, last)
  if not ok then return self:abort(err) end
  return true
end

-- flush(all) -> true | nil, err: sends the pending rows (all: also a last, shorter batch)
function Writer:flush(all)
  local db, vals = self.db, self.vals
  local B = self.batch
  local at = 0 -- rows sent
  local n = self.nrows
  while n - at >= B or (all and n - at > 0) do
    local k = n - at
    if k >= B then k = B elseif k >= 10 then k = 10 else k = 1 end
    local ok, err
    if at == 0 then
      ok, err = db:execn(insert_sql(k), vals, k * COLS)
    else
      ok, err = db:exec(insert_sql(k), (table.unpack or unpack)(vals, at * COLS + 1, (at + k) * COLS))
    end
    if not ok then return nil, err end
    at = at + k
  end
  -- keep what was not sent at the front (the slots after it keep old values, overwritten as rows come:
  -- only vals[1 .. nrows * COLS] is ever read)
  if at > 0 then
    local left = (n - at) * COLS
    for i = 1, left do vals[i] = vals[at * COLS + i] end
    self.nrows = n - at
    self.seen = {}
    for r = 0, self.sqlite and -1 or self.nrows - 1 do -- the keys still pending stay seen (PostgreSQL)
      local b = r * COLS
      local ck, ek = vals[b + 3], vals[b + 4]
      local key
      if ck < WIDE and ek < WIDE then key = (self.index[vals[b + 2]] * WIDE + ck) * WIDE + ek
      else key = vals[b + 2] .. ":" .. ck .. ":" .. ek end
      self.seen[key] = true
    end
  end
  return true
end

-- add(rows) -> true | nil, err: the rows of one page
function Writer:add(rows)
  local store, index, days = self.store, self.index, self.days
  local ckeys, ekeys = store.keys.clients, store.keys.endpoints
  local bind, vals, org_key = self.bind, self.vals, self.org_key
  local sqlite = self.sqlite
  local names = self.names
  local last_name, last_ck, last_di
  local n = {} -- each row normalized into this one table (nothing of it is kept past its row)
  for i = 1, #rows do
    local raw = rows[i]
    if type(raw) ~= "table" then return self:bad_row("a row is a " .. type(raw) .. ", not an object") end
    normalize(raw, n)
    -- counts: whole numbers 0..2^63-1 (normalize turns a count that is not a number into 0: such a
    -- count must have been absent, null or 0); the usual case costs no call
    local r1, r2, r3, r4, r5, r6 = n.requests, n.status200, n.status300, n.status400, n.status429, n.status500
    -- (a float of 2^63 or more makes the sum one too; Lua 5.4's integers are below 2^63 whatever they add up to)
    if not (r1 >= 0 and r2 >= 0 and r3 >= 0 and r4 >= 0 and r5 >= 0 and r6 >= 0 and r1 % 1 == 0 and
            r2 % 1 == 0 and r3 % 1 == 0 and r4 % 1 == 0 and r5 % 1 == 0 and r6 % 1 == 0 and
            (r1 < TWO53 and r2 < TWO53 and r3 < TWO53 and r4 < TWO53 and r5 < TWO53 and r6 < TWO53 or
             r1 + r2 + r3 + r4 + r5 + r6 < TWO63)) or
       (r1 == 0 and nonzero_requests(raw)) or
       (r2 == 0 and nonzero(raw.status200)) or (r3 == 0 and nonzero(raw.status300)) or
       (r4 == 0 and nonzero(raw.status400)) or (r5 == 0 and nonzero(raw.status429)) or
       (r6 == 0 and nonzero(raw.status500)) then
      local ok, why = check_counts(raw, n) -- the slow check has the last word
      if not ok then return self:bad_row(why) end
    end
    local di = n.date and index[n.date]
    if not di then
      return self:bad_row("a row is dated " .. tostring(n.date or raw.date) .. ", outside the days asked for")
    end
    local cid = n.client_id or ""
    local ck = ckeys[cid]
    if not ck then
      local err
      ck, err = client_key(store, n.client_id)
      if not ck then
        if type(err) == "string" then return self:bad_row(err) end
        return nil, err
      end
      ckeys[cid] = ck
    end
    local tu, hm = n.template_uri or "", n.http_method or ""
    local et = ekeys[tu]
    if not et then
      et = {}
      ekeys[tu] = et
    end
    local ek = et[hm]
    if not ek then
      local err
      ek, err = endpoint_key(store, n.template_uri, n.http_method)
      if not ek then
        if type(err) == "string" then return self:bad_row(err) end
        return nil, err
      end
      et[hm] = ek
    end
    local name = n.client_name
    if name and (name ~= last_name or ck ~= last_ck or di ~= last_di) then -- (rows come grouped: most repeat)
      last_name, last_ck, last_di = name, ck, di
      local per = names[ck]
      if not per then
        per = {}
        names[ck] = per
      end
      local set = per[di]
      if not set then
        set = {}
        per[di] = set
      end
      set[name] = true
    end
    local day = days[di + 1]
    -- a key twice in one statement: PostgreSQL refuses that in one INSERT .. ON CONFLICT, so send first
    -- (SQLite takes the rows of a statement one after the other: no need)
    if not sqlite then
      local key
      if ck < WIDE and ek < WIDE then key = (di * WIDE + ck) * WIDE + ek else key = day .. ":" .. ck .. ":" .. ek end
      if self.seen[key] then
        local ok, err = self:flush(true)
        if not ok then return nil, err end
      end
      self.seen[key] = true
    end
    local b = self.nrows * COLS
    vals[b + 1] = org_key
    vals[b + 2] = day
    vals[b + 3] = ck
    vals[b + 4] = ek
    if sqlite then -- below 2^53 the number itself (a double, exact), else its text
      vals[b + 5] = r1 < TWO53 and r1 or bind(r1)
      vals[b + 6] = r2 < TWO53 and r2 or bind(r2)
      vals[b + 7] = r3 < TWO53 and r3 or bind(r3)
      vals[b + 8] = r4 < TWO53 and r4 or bind(r4)
      vals[b + 9] = r5 < TWO53 and r5 or bind(r5)
      vals[b + 10] = r6 < TWO53 and r6 or bind(r6)
    else
      vals[b + 5] = bind(r1)
      vals[b + 6] = bind(r2)
      vals[b + 7] = bind(r3)
      vals[b + 8] = bind(r4)
      vals[b + 9] = bind(r5)
      vals[b + 10] = bind(r6)
    end
    self.nrows = self.nrows + 1
    self.rows = self.rows + 1
    if self.nrows >= self.batch then
      local ok, err = self:flush(false)
      if not ok then return nil, err end
    end
  end
  return true
end

-- names(): the client names seen, one row per (client, day, name)
function Writer:write_names()
  local db = self.db
  for ck, per in pairs(self.names) do
    for di, set in pairs(per) do
      for name in pairs(set) do
        local clean, why = text.value(name, "a client name")
        if not clean then return self:bad_row(why) end
        local ok, err = db:exec("INSERT INTO client_names (org_key, client_key, day, name) VALUES (?, ?, ?, ?) " ..
                                "ON CONFLICT DO NOTHING", self.org_key, ck, self.days[di + 1], clean)
        if not ok then return nil, err end
      end
    end
  end
  return true
end

-- finish(now_text [, check]) -> { days, added, replaced, rows } | nil, err. check(): run inside the
-- transaction before the commit (the sync verifies it still holds the store's lock)
function Writer:finish(now_text, check)
  local db = self.db
  local ok, err = self:flush(true)
  if not ok then return self:abort(err) end
  ok, err = self:write_names()
  if not ok then return self:abort(err) end
  local counts = {}
  ok, err = db:each("SELECT CAST(day AS TEXT), CAST(COUNT(*) AS TEXT) FROM usage_rows WHERE org_key = ? AND " ..
                    "day >= ? AND day <= ? GROUP BY day", { self.org_key, self.days[1], self.days[#self.days] },
                    function(r) counts[r[1]] = r[2] end)
  if not ok then return self:abort(err) end
  local sync_id = self.sync_id and tostring(self.sync_id) or nil
  for _, day in ipairs(self.days) do
    ok, err = db:exec("INSERT INTO stored_days (org_key, day, row_count, stored_at, sync_id) VALUES (?, ?, ?, ?, ?) " ..
                      "ON CONFLICT (org_key, day) DO UPDATE SET row_count = excluded.row_count, " ..
                      "stored_at = excluded.stored_at, sync_id = excluded.sync_id",
                      self.org_key, day, counts[day] or "0", now_text, sync_id)
    if not ok then return self:abort(err) end
  end
  if check then
    ok, err = check()
    if not ok then return self:abort(err) end
  end
  ok, err = db:commit()
  self.open = false
  if not ok then
    self.store:forget_keys()
    return nil, err
  end
  local total = #self.days
  return { days = total, added = total - self.replaced, replaced = self.replaced, rows = self.rows }
end

-- abort([err]) -> nil, err: rolls back
function Writer:abort(err)
  if self.open then
    self.open = false
    self.db:rollback()
  end
  self.store:forget_keys()
  return nil, err
end

return M
