-- usage.cli.columns: one set of column names for the rows of both generations, derived from the row
-- models (usage.api.models). Nested objects are flattened into camelCase names (oauthClient.id ->
-- oauthClientId, user.id -> userId), and what means the same gets one name: the old generation's
-- clientId/clientName and the new one's oauthClient.id/name are oauthClientId/oauthClientName, its
-- requestCount and the old requests are requests; dates are YYYY-MM-DD in both.
-- A query chooses its columns: the date of the buckets, the dimensions it groups by and the metrics it
-- asks for (all of them when it asks for none); a metric asked for is 0 where a row leaves it out.

local models = require "usage.api.models"

local M = {}

-- row fields whose unified name differs from their own
local RENAME = { clientId = "oauthClientId", clientName = "oauthClientName", requestCount = "requests" }
-- the order of the dimensions (after the date; counts come last, in models.count_fields order)
local ORDER = { "date", "oauthClientId", "oauthClientName", "organizationId", "userId", "templateUri",
                "httpMethod", "platform" }
-- a dimension that brings another along: rows grouped by client id carry the client's name too
local ALONG = { oauthClientId = "oauthClientName" }

local function capitalized(s) return s:sub(1, 1):upper() .. s:sub(2) end

local cache = {}

-- of_model(row_model) -> every column of a row model, in display order. A column is { name (unified),
-- source (the API's flattened name, as sortBy takes it), path, count = bool, date = bool }
local function of_model(model_name)
  if cache[model_name] then return cache[model_name] end
  local model = assert(models.models[model_name], "no model " .. tostring(model_name))
  local count_rank = {}
  for i, name in ipairs(models.count_fields[model_name] or {}) do count_rank[name] = i end
  local order = {}
  for i, name in ipairs(ORDER) do order[name] = i end
  local cols = {}
  local function add(source, path, field)
    local count = #path == 1 and count_rank[source] or nil
    local name = RENAME[source] or source
    cols[#cols + 1] = { name = name, source = source, path = path, count = count ~= nil,
                        date = field.type == "date" or field.type == "datetime",
                        rank = count and (100 + count) or order[name] or (50 + #cols) }
  end
  for _, f in ipairs(model.fields) do
    if f.type == "object" and f.model and not f.array then
      for _, sub in ipairs(models.models[f.model].fields) do
        if sub.name ~= "selfUri" and sub.type ~= "object" then add(f.name .. capitalized(sub.name), { f.name, sub.name }, sub) end
      end
    elseif f.name ~= "selfUri" and not f.array then
      add(f.name, { f.name }, f)
    end
  end
  table.sort(cols, function(a, b) return a.rank < b.rank end)
  cache[model_name] = cols
  return cols
end

-- sort_fields(row_model) -> the field names sortBy takes for rows of this model (the API's names)
function M.sort_fields(model_name)
  local out = {}
  for i, c in ipairs(of_model(model_name)) do out[i] = c.source end
  return out
end

-- the column an enum value of a request (groupBy OauthClientId, metrics Status429, ClientName, Date)
-- stands for, matched without case on the unified or the API's name
local function column_of(cols, value)
  local lv = value:lower()
  for _, c in ipairs(cols) do
    if c.name:lower() == lv or c.source:lower() == lv then return c end
  end
  return nil
end

local function has_value(enum, wanted)
  for _, v in ipairs(enum or {}) do
    if v:lower() == wanted then return true end
  end
  return false
end

-- select(row_model, body_model, body) -> the columns a query can fill
function M.select(row_model, body_model, body)
  local cols = of_model(row_model)
  local fields = models.models[body_model].by_name
  local wanted = {}
  local function want(value)
    local c = column_of(cols, value)
    if c then
      wanted[c] = true
      local along = ALONG[c.name] and column_of(cols, ALONG[c.name])
      if along then wanted[along] = true end
    end
  end
  for _, v in ipairs(body.groupBy or {}) do want(v) end
  local metric_enum = fields.metrics and fields.metrics.enum or {}
  local metrics = (type(body.metrics) == "table" and #body.metrics > 0) and body.metrics or metric_enum
  for _, v in ipairs(metrics) do want(v) end
  if not has_value(metric_enum, "date") then want("date") end -- buckets have a date unless a metric chooses it
  local out = {}
  for _, c in ipairs(cols) do
    if wanted[c] then out[#out + 1] = c end
  end
  return out
end

-- the field of a row a column shows, as it is (nil when absent)
local function raw(c, row)
  local v = row[c.path[1]]
  if c.path[2] then v = type(v) == "table" and v[c.path[2]] or nil end
  return v
end

-- from_rows(row_model, rows) -> the columns that hold something in any of the rows (for rows whose query
-- is unknown: a job read again, the summary)
function M.from_rows(row_model, rows)
  local out = {}
  for _, c in ipairs(of_model(row_model)) do
    for i = 1, #rows do
      local v = raw(c, rows[i])
      if v ~= nil and (not c.count or type(v) == "number") and M.value(c, rows[i]) ~= nil then
        out[#out + 1] = c
        break
      end
    end
  end
  return out
end

-- value(column, row) -> the cell of a row: a string, a number, or nil. Dates are cut to YYYY-MM-DD;
-- a count the row lacks is 0; a value of the wrong type (a table, a boolean) is nil.
function M.value(c, row)
  local v = raw(c, row)
  local t = type(v)
  if c.count then
    if v == nil then return 0 end
    return t == "number" and v or nil
  end
  if c.date then return t == "string" and v:sub(1, 10) or nil end
  if t == "string" or t == "number" then return v end
  return nil
end

return M
