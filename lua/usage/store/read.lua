-- usage.store.read: what the reports, forecasts and metrics read from a store. SQL does the grouping
-- (and the exact sums); Lua turns keys into names and the counts' text into numbers (usage.store.num).
--
-- store:usage(opts) -> result | nil, err
--   opts.first, opts.last   days "YYYY-MM-DD", both included (or opts.days: a usage.base.interval Days table)
--   opts.org                an org label, an array of labels, or nil: every org of the store
--   opts.by                 "client_endpoint" (default), "client", "endpoint" or "org"
--   opts.per                "day" (default), "month" or "span" (the whole span in one row per group)
--   opts.merge_orgs         true: the orgs' figures added up (rows without org)
--   opts.on_row             function(row): each row as it is read instead of result.rows
--   opts.counts             "number" (default) or "string" (exact decimal text, any interpreter)
--   opts.names              "latest" (default): a client is named by its latest name in the store;
--                           "span": by the name on its latest day within the span (as a report of the
--                           API's rows of those days names it: usage.base.rows' rule)
-- result = { rows, row_count, first, last, label, days (count), orgs = { coverage of each org },
--            complete (every org has every day), sql = { text, params } }
-- A row has the shape of usage.base.rows.normalize: { org, date, month, client_id, client_name, template_uri,
-- http_method, requests, status200, status300, status400, status429, status500 } (fields of the grouping
-- only; date is the day, or the month's first day with month = "YYYY-MM"; none for per = "span").
-- With by = "org" and per = "day", every stored day has a row, zeros for a day without usage.

local interval = require "usage.base.interval"
local num = require "usage.store.num"
local schema = require "usage.store.schema"

local M = {}

local COUNTS = schema.COUNTS
local NC = #COUNTS

local BY = { client_endpoint = { client = true, endpoint = true }, client = { client = true },
             endpoint = { endpoint = true }, org = {} }
local PER = { day = true, month = true, span = true }

-- span(opts, fname) -> first, last (day numbers) | raises (a programmer error) | nil, message
local function span_of(opts, fname)
  local first, last = opts.first, opts.last
  if opts.days ~= nil then
    if type(opts.days) ~= "table" or type(opts.days.first) ~= "string" or type(opts.days.last) ~= "string" then
      error(fname .. ": opts.days must be a usage.interval Days table (first, last)", 3)
    end
    first, last = opts.days.first, opts.days.last
  end
  if type(first) ~= "string" or type(last) ~= "string" then
    error(fname .. ": give opts.first and opts.last (days \"YYYY-MM-DD\") or opts.days", 3)
  end
  local a, why = interval.parse_date(first)
  if not a then return nil, "bad first day '" .. first .. "': " .. why end
  local b, why2 = interval.parse_date(last)
  if not b then return nil, "bad last day '" .. last .. "': " .. why2 end
  if b < a then return nil, "the last day " .. last .. " is before the first day " .. first end
  return a, b
end
M.span_of = span_of

-- orgs(store) -> { by_label = { label = key }, by_key = { key = label }, list = { labels sorted } } | nil, err
local function org_map(store)
  local rows, err = store.db:rows("SELECT CAST(org_key AS TEXT), label FROM orgs ORDER BY label")
  if not rows then return nil, err end
  local m = { by_label = {}, by_key = {}, list = {} }
  for _, r in ipairs(rows) do
    local k = tonumber(r[1])
    m.by_label[r[2]] = k
    m.by_key[k] = r[2]
    m.list[#m.list + 1] = r[2]
  end
  return m
end

-- selected(store, opts, fname) -> array of { label, key }, map | nil, err
local function selected(store, org, fname)
  local map, err = org_map(store)
  if not map then return nil, err end
  local labels
  if org == nil then
    labels = map.list
  elseif type(org) == "string" then
    labels = { org }
  elseif type(org) == "table" then
    labels = org
  else
    error(fname .. ": opts.org must be a label, an array of labels or nil", 3)
  end
  local out = {}
  for _, label in ipairs(labels) do
    if type(label) ~= "string" then error(fname .. ": an org label must be a string", 3) end
    local k = map.by_label[label]
    if not k then
      return store.db:fail("unknown_org", "the store has no org '" .. label .. "' (it has: " ..
                           (#map.list > 0 and table.concat(map.list, ", ") or "none") .. ")")
    end
    out[#out + 1] = { label = label, key = k }
  end
  return out, map
end

local function placeholders(n)
  return string.rep("?", n, ", ")
end

-- coverage(store, orgs, a, b) -> { { org, stored, missing = { days }, first_stored, last_stored } } | nil, err
local function coverage(store, orgs, a, b)
  local out = {}
  if #orgs == 0 then return out end
  local keys, by_key = {}, {}
  for i, o in ipairs(orgs) do
    keys[i] = o.key
    by_key[o.key] = { org = o.label, stored = 0, missing = {}, set = {} }
    out[i] = by_key[o.key]
  end
  local params = { interval.date(a), interval.date(b) }
  for _, k in ipairs(keys) do params[#params + 1] = k end
  local ok, err = store.db:each("SELECT CAST(org_key AS TEXT), CAST(day AS TEXT) FROM stored_days WHERE day >= ? " ..
    "AND day <= ? AND org_key IN (" .. placeholders(#keys) .. ")", params, function(r)
      local c = by_key[tonumber(r[1])]
      c.set[r[2]] = true
      c.stored = c.stored + 1
    end)
  if not ok then return nil, err end
  for _, c in ipairs(out) do
    for d = a, b do
      local s = interval.date(d)
      if c.set[s] then
        c.first_stored = c.first_stored or s
        c.last_stored = s
      else
        c.missing[#c.missing + 1] = s
      end
    end
    c.set = nil
    c.days = b - a + 1
    c.complete = #c.missing == 0
  end
  return out
end

-- names(store, merged [, first, last]) -> { [org_key] = { [client_key] = name } } or, merged,
-- { [client_key] = name }: each client's name on its latest day (the greatest name on a tie), in the whole
-- store, or within the days first..last ("YYYY-MM-DD") when given
local function client_names(store, merged, first, last)
  local out = {}
  local sql
  local params = {}
  local within = ""
  if first then
    within = " WHERE day >= ? AND day <= ?"
    params = { first, last }
  end
  if merged then -- the name of the latest day over every org (the greatest name on a tie)
    sql = "SELECT '0', CAST(n.client_key AS TEXT), MAX(n.name) FROM client_names n " ..
          "JOIN (SELECT client_key, MAX(day) AS day FROM client_names" .. within .. " GROUP BY client_key) l " ..
          "ON l.client_key = n.client_key AND l.day = n.day GROUP BY n.client_key"
  elseif first then
    sql = "SELECT CAST(n.org_key AS TEXT), CAST(n.client_key AS TEXT), MAX(n.name) FROM client_names n " ..
          "JOIN (SELECT org_key, client_key, MAX(day) AS day FROM client_names" .. within ..
          " GROUP BY org_key, client_key) l ON l.org_key = n.org_key AND l.client_key = n.client_key " ..
          "AND l.day = n.day GROUP BY n.org_key, n.client_key"
  else
    sql = "SELECT CAST(org_key AS TEXT), CAST(client_key AS TEXT), client_name FROM client_latest_names"
  end
  local ok, err = store.db:each(sql, params, function(r)
    local ok_ = tonumber(r[1])
    local t = out[ok_]
    if not t then
      t = {}
      out[ok_] = t
    end
    t[tonumber(r[2])] = r[3]
  end)
  if not ok then return nil, err end
  return merged and (out[0] or {}) or out
end

local function dimension(store, sql)
  local out = {}
  local ok, err = store.db:each(sql, {}, function(r) out[tonumber(r[1])] = r end)
  if not ok then return nil, err end
  return out
end

-- orphan(what, key) -> the message of a row whose client or endpoint key names nothing (a store written by
-- something else: SQLite enforces no foreign key)
local function orphan(what, key)
  return "the store holds usage rows of " .. what .. " key " .. tostring(key) .. ", which its " .. what ..
         "s table lacks: the store was changed by something else"
end

local function empty_to_nil(s)
  if s == "" then return nil end
  return s
end

-- the SQL of a usage question -> text, params, column layout
local function build(opts, keys, a, b, merged)
  local g = BY[opts.by]
  local per = opts.per
  local inner_cols, groups = {}, {}
  local layout = {}
  if not merged then
    inner_cols[#inner_cols + 1] = "u.org_key"
    groups[#groups + 1] = "u.org_key"
    layout[#layout + 1] = "org"
  end
  if per == "day" then
    inner_cols[#inner_cols + 1] = "CAST(u.day AS TEXT) AS period"
    groups[#groups + 1] = "u.day"
    layout[#layout + 1] = "period"
  elseif per == "month" then
    inner_cols[#inner_cols + 1] = schema.MONTH("u.day") .. " AS period"
    groups[#groups + 1] = schema.MONTH("u.day")
    layout[#layout + 1] = "period"
  end
  if g.client then
    inner_cols[#inner_cols + 1] = "u.client_key"
    groups[#groups + 1] = "u.client_key"
    layout[#layout + 1] = "client"
  end
  if g.endpoint then
    inner_cols[#inner_cols + 1] = "u.endpoint_key"
    groups[#groups + 1] = "u.endpoint_key"
    layout[#layout + 1] = "endpoint"
  end
  local sums, negative = {}, {}
  for i, c in ipairs(COUNTS) do
    sums[i] = "SUM(u." .. c .. ") AS " .. c
    negative[i] = "u." .. c .. " < 0"
  end
  -- the rows this library never writes (a store written by something else): a negative count, or (SQLite,
  -- whose day is text) a day that is no date, which the span's text comparison lets in; counted, refused
  local invalid = table.concat(negative, " OR ") .. (opts.backend == "sqlite" and " OR date(u.day) IS NOT u.day" or "")
  sums[#sums + 1] = "SUM(CASE WHEN " .. invalid .. " THEN 1 ELSE 0 END) AS invalid_rows"
  local outer = {}
  for i, l in ipairs(layout) do
    outer[i] = (l == "period") and "g.period" or ("CAST(g." .. ({ org = "org_key", client = "client_key",
                                                                  endpoint = "endpoint_key" })[l] .. " AS TEXT)")
  end
  for _, c in ipairs(COUNTS) do outer[#outer + 1] = "CAST(g." .. c .. " AS TEXT)" end
  outer[#outer + 1] = "CAST(g.invalid_rows AS TEXT)"
  local params = { interval.date(a), interval.date(b) }
  local where = "u.day >= ? AND u.day <= ?"
  if keys then
    where = where .. " AND u.org_key IN (" .. placeholders(#keys) .. ")"
    for _, k in ipairs(keys) do params[#params + 1] = k end
  end
  local inner = "SELECT " .. table.concat(inner_cols, ", ") .. (#inner_cols > 0 and ", " or "") ..
                table.concat(sums, ", ") .. " FROM usage_rows u WHERE " .. where ..
                (#groups > 0 and (" GROUP BY " .. table.concat(groups, ", ")) or "")
  -- order: period, org, then the biggest first (keys break ties: a stable order)
  local order = {}
  for _, l in ipairs(layout) do if l == "period" then order[#order + 1] = "g.period" end end
  for _, l in ipairs(layout) do if l == "org" then order[#order + 1] = "o.label" end end
  order[#order + 1] = "g.requests DESC"
  for _, l in ipairs(layout) do
    if l == "client" then order[#order + 1] = "g.client_key" end
    if l == "endpoint" then order[#order + 1] = "g.endpoint_key" end
  end
  local sql = "SELECT " .. table.concat(outer, ", ") .. " FROM (" .. inner .. ") g" ..
              (merged and "" or " JOIN orgs o ON o.org_key = g.org_key") .. " ORDER BY " .. table.concat(order, ", ")
  -- daily totals per org: every stored day, zeros for a day without usage
  if opts.by == "org" and per == "day" and not merged then
    local zero = {}
    for i, c in ipairs(COUNTS) do zero[i] = "CAST(COALESCE(g." .. c .. ", 0) AS TEXT)" end
    zero[#zero + 1] = "CAST(COALESCE(g.invalid_rows, 0) AS TEXT)"
    local dparams = {}
    for _, p in ipairs(params) do dparams[#dparams + 1] = p end -- the inner query's come first in the text
    dparams[#dparams + 1] = interval.date(a)
    dparams[#dparams + 1] = interval.date(b)
    local dwhere = "d.day >= ? AND d.day <= ?"
    if keys then
      dwhere = dwhere .. " AND d.org_key IN (" .. placeholders(#keys) .. ")"
      for _, k in ipairs(keys) do dparams[#dparams + 1] = k end
    end
    sql = "SELECT CAST(d.org_key AS TEXT), CAST(d.day AS TEXT), " .. table.concat(zero, ", ") ..
          " FROM stored_days d LEFT JOIN (" ..
          inner:gsub("CAST%(u%.day AS TEXT%) AS period", "u.day AS day", 1) ..
          ") g ON g.org_key = d.org_key AND g.day = d.day JOIN orgs o ON o.org_key = d.org_key WHERE " .. dwhere ..
          " ORDER BY d.day, o.label"
    params = dparams
  end
  return sql, params, layout
end

-- check(opts, fname) -> first, last (day numbers) | nil, message; raises on a programmer's mistake
local function check(opts, fname)
  if type(opts) ~= "table" then error(fname .. ": expects a table of options", 4) end
  local by = opts.by or "client_endpoint"
  if not BY[by] then error(fname .. ": opts.by must be client_endpoint, client, endpoint or org", 4) end
  local per = opts.per or "day"
  if not PER[per] then error(fname .. ": opts.per must be day, month or span", 4) end
  if opts.on_row ~= nil and type(opts.on_row) ~= "function" then error(fname .. ": opts.on_row must be a function", 4) end
  if opts.counts ~= nil and opts.counts ~= "number" and opts.counts ~= "string" then
    error(fname .. ": opts.counts must be \"number\" or \"string\"", 4)
  end
  if opts.names ~= nil and opts.names ~= "latest" and opts.names ~= "span" then
    error(fname .. ": opts.names must be \"latest\" or \"span\"", 4)
  end
  return span_of(opts, fname)
end

-- ask(store, opts, fname, a, b) -> result | nil, err: one usage question, the connection held
local function ask(store, opts, fname, a, b)
  local by, per = opts.by or "client_endpoint", opts.per or "day"
  local merged = opts.merge_orgs and true or false
  do
    local orgs, map = selected(store, opts.org, fname)
    if not orgs then return nil, map end
    local cov, err = coverage(store, orgs, a, b)
    if not cov then return nil, err end
    local keys
    if opts.org ~= nil then
      keys = {}
      for i, o in ipairs(orgs) do keys[i] = o.key end
    end
    local q = { by = by, per = per, backend = store.backend }
    local sql, params, layout = build(q, keys, a, b, merged)
    if by == "org" and per == "day" and not merged then layout = { "org", "period" } end
    local g = BY[by]
    local clients, endpoints, names
    if g.client then
      clients, err = dimension(store, "SELECT CAST(client_key AS TEXT), client_id FROM clients")
      if not clients then return nil, err end
      if opts.names == "span" then
        names, err = client_names(store, merged, interval.date(a), interval.date(b))
      else
        names, err = client_names(store, merged)
      end
      if not names then return nil, err end
    end
    if g.endpoint then
      endpoints, err = dimension(store, "SELECT CAST(endpoint_key AS TEXT), template_uri, http_method FROM endpoints")
      if not endpoints then return nil, err end
    end
    local as_text = opts.counts == "string"
    local out, n = {}, 0
    local on_row = opts.on_row
    local parse = num.parse
    local nl = #layout
    local ok, ferr = store.db:each(sql, params, function(r)
      local row = {}
      local org_key
      for i = 1, nl do
        local l, v = layout[i], r[i]
        if l == "org" then
          org_key = tonumber(v)
          row.org = map.by_key[org_key]
        elseif l == "period" then
          if per == "month" then
            row.month = v
            row.date = v .. "-01"
          else
            row.date = v
          end
        elseif l == "client" then
          local ck = tonumber(v)
          if not clients[ck] then return nil, select(2, store.db:fail("corrupt", orphan("client", v))) end
          row.client_id = empty_to_nil(clients[ck][2])
          local nm = merged and names[ck] or (names[org_key] and names[org_key][ck])
          row.client_name = nm
        elseif l == "endpoint" then
          local e = endpoints[tonumber(v)]
          if not e then return nil, select(2, store.db:fail("corrupt", orphan("endpoint", v))) end
          row.template_uri = empty_to_nil(e[2])
          row.http_method = empty_to_nil(e[3])
        end
      end
      for i = 1, NC do
        local v, code, message = parse(r[nl + i], as_text)
        if v == nil then
          return nil, select(2, store.db:fail(code, message))
        end
        row[COUNTS[i]] = v
      end
      if r[nl + NC + 1] ~= "0" then
        return nil, select(2, store.db:fail("corrupt", "the store holds usage rows in " .. interval.label(a, b) ..
          (row.org and (" of org " .. row.org) or "") .. " with a negative count or a day that is not a date, " ..
          "which this library never writes: the store was changed by something else"))
      end
      n = n + 1
      if on_row then on_row(row) else out[n] = row end
    end)
    if not ok then return nil, ferr end
    local complete = true
    for _, c in ipairs(cov) do complete = complete and c.complete end
    return {
      rows = (not on_row) and out or nil, row_count = n,
      first = interval.date(a), last = interval.date(b), days = b - a + 1, label = interval.label(a, b),
      by = by, per = per, merged = merged, orgs = cov, complete = complete,
      sql = { text = sql, params = params },
    }
  end
end

function M.usage(store, opts, fname)
  fname = fname or "store:usage"
  local a, b = check(opts, fname)
  if not a then return store.db:fail("bad_span", b) end
  return store:reading(function() return ask(store, opts, fname, a, b) end)
end

-- the statement that starts a read of one snapshot: SQLite's deferred BEGIN (its first read takes a shared
-- lock kept to the COMMIT: a sync's commit waits for it; it works on a read-only file too), PostgreSQL's
-- REPEATABLE READ (one snapshot for every statement)
local SNAPSHOT = { sqlite = "BEGIN", postgresql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" }

-- usage_many(store, list) -> { result, ... } | nil, err: several usage questions (each as for usage) read
-- from one snapshot of the store, so that their figures agree although a sync may commit meanwhile
function M.usage_many(store, list, fname)
  fname = fname or "store:usage_many"
  if type(list) ~= "table" or #list == 0 then error(fname .. ": expects an array of usage questions", 3) end
  local spans = {}
  for i, opts in ipairs(list) do
    local a, b = check(opts, fname)
    if not a then return store.db:fail("bad_span", b) end
    spans[i] = { a, b }
  end
  return store:reading(function()
    local db = store.db
    local ok, err = db:exec(SNAPSHOT[store.backend] or "BEGIN")
    if not ok then return nil, err end
    db.in_tx = true
    local out = {}
    for i, opts in ipairs(list) do
      local r, rerr = ask(store, opts, fname, spans[i][1], spans[i][2])
      if not r then
        db:rollback()
        return nil, rerr
      end
      out[i] = r
    end
    local cok, cerr = db:commit()
    if not cok then return nil, cerr end
    return out
  end)
end

-- coverage(opts) -> { { org, days, stored, missing, first_stored, last_stored, complete } } | nil, err
function M.coverage(store, opts, fname)
  fname = fname or "store:coverage"
  if type(opts) ~= "table" then error(fname .. ": expects a table of options", 3) end
  local a, b = span_of(opts, fname)
  if not a then return store.db:fail("bad_span", b) end
  return store:reading(function()
    local orgs, err = selected(store, opts.org, fname)
    if not orgs then return nil, err end
    return coverage(store, orgs, a, b)
  end)
end

-- orgs() -> { { org, days_stored, first_day, last_day, last_sync = { started_at, finished_at, status,
--              days_added, days_replaced, error } } }
function M.orgs(store)
  return store:reading(function()
    local rows, err = store.db:rows("SELECT org, CAST(days_stored AS TEXT), CAST(first_day AS TEXT), " ..
      "CAST(last_day AS TEXT), last_sync_started, last_sync_finished, last_sync_status, " ..
      "CAST(last_sync_days_added AS TEXT), CAST(last_sync_days_replaced AS TEXT), last_sync_error " ..
      "FROM sync_state ORDER BY org")
    if not rows then return nil, err end
    local out = {}
    for i, r in ipairs(rows) do
      out[i] = { org = r[1], days_stored = tonumber(r[2]) or 0, first_day = r[3], last_day = r[4],
                 last_sync = r[5] and { started_at = r[5], finished_at = r[6], status = r[7],
                                        days_added = tonumber(r[8]), days_replaced = tonumber(r[9]), error = r[10] } or nil }
    end
    return out
  end)
end

-- client_names(opts) -> { { org, client_id, client_name, first_day, last_day, days } } (every name a client
-- had, with the days it was seen; opts.org, opts.client_id narrow it)
function M.client_names(store, opts)
  opts = opts or {}
  return store:reading(function()
    local where, params = {}, {}
    if opts.org then where[#where + 1] = "org = ?"; params[#params + 1] = opts.org end
    if opts.client_id then where[#where + 1] = "client_id = ?"; params[#params + 1] = opts.client_id end
    local out = {}
    local ok, err = store.db:each("SELECT org, client_id, client_name, CAST(first_day AS TEXT), " ..
      "CAST(last_day AS TEXT), CAST(days AS TEXT) FROM client_name_history" ..
      (#where > 0 and (" WHERE " .. table.concat(where, " AND ")) or "") ..
      " ORDER BY org, client_id, first_day, client_name", params, function(r)
        out[#out + 1] = { org = r[1], client_id = empty_to_nil(r[2]), client_name = r[3], first_day = r[4],
                          last_day = r[5], days = tonumber(r[6]) }
      end)
    if not ok then return nil, err end
    return out
  end)
end

return M
