-- usage.api.validate: request bodies checked against usage.api.models (the arguments around them are
-- usage.api.params' business). body(model, value) returns a normalized copy (arrays marked, enum spellings
-- made canonical) or nil, err naming the field and the allowed values: a body is data, often built from a
-- user's input, so a wrong one is an error value, not a raise.

local errors = require "usage.base.errors"
local interval = require "usage.base.interval"
local json = require "usage.base.json"
local models = require "usage.api.models"
local limits = require "usage.api.limits"
local window = require "usage.api.window"

local M = {}

local rawlen = rawlen or function(t) return #t end -- LuaJIT: # is raw on plain tables (no __len there)


local function invalid(field, message, allowed)
  return nil, errors.new {
    code = "validation",
    field = field,
    allowed = allowed,
    message = field .. ": " .. message .. (allowed and ("; allowed: " .. table.concat(allowed, ", ")) or ""),
  }
end

-- enum values match case-insensitively and are sent with their canonical spelling
local function canonical(enum, v)
  if type(v) ~= "string" then return nil end
  local lv = v:lower()
  for _, allowed in ipairs(enum) do
    if allowed:lower() == lv then return allowed end
  end
  return nil
end

M.canonical = canonical

local check_value

-- Fields are read as they are (next, rawget): a field that only comes from a metatable's __index is absent.
local function check_object(model_name, value, path, ctx)
  local model = models.models[model_name]
  if type(value) ~= "table" or json.is_array(value) or (next(value) ~= nil and rawlen(value) > 0) then
    return invalid(path ~= "" and path or "body", "must be an object (a table with named fields)")
  end
  local out = {}
  for k, v in next, value do
    local field = model.by_name[k]
    local name = (path ~= "" and path .. "." or "") .. tostring(k)
    if not field then
      local names = {}
      for _, f in ipairs(model.fields) do names[#names + 1] = f.name end
      return invalid(name, "unknown field of " .. model_name, names)
    end
    local normalized, err = check_value(field, v, name, ctx)
    if normalized == nil then return nil, err end
    out[k] = normalized
  end
  for _, field in ipairs(model.fields) do
    if field.required and rawget(value, field.name) == nil then
      return invalid((path ~= "" and path .. "." or "") .. field.name, "is required")
    end
  end
  return out
end

local function check_scalar(field, v, name, ctx)
  local t = field.type
  if t == "enum" then
    local c = canonical(field.enum, v)
    if not c then return invalid(name, string.format("%q is not a valid value", tostring(v)), field.enum) end
    return c
  elseif t == "string" then
    if type(v) ~= "string" then return invalid(name, "must be a string") end
    return v
  elseif t == "integer" then
    if type(v) ~= "number" or v ~= math.floor(v) then return invalid(name, "must be an integer") end
    return v
  elseif t == "interval" then
    if type(v) ~= "string" then return invalid(name, "must be a string START/END") end
    local start, finish = interval.parse(v)
    if not start then return invalid(name, finish) end
    if ctx.generation == "jobs" then
      if finish < start then return invalid(name, "the end is before the start") end
      if not ctx.split and finish - start > limits.MAX_JOB_DAYS * interval.DAY then
        return invalid(name, string.format("spans more than %d days (an aggregates job may span at most %d days; " ..
                                           "client:aggregates splits longer intervals)", limits.MAX_JOB_DAYS,
                                           limits.MAX_JOB_DAYS))
      end
      local ok, why, first = window.check_start(start, ctx.now)
      if not ok then
        local _, err = invalid(name, why)
        err.first_day = first
        return nil, err
      end
    elseif finish <= start then
      return invalid(name, "the end must be after the start")
    end
    return (interval.normalize(v)) -- ISO 8601 as written (offsets, lower case) goes out in UTC
  elseif t == "object" then
    return check_object(field.model, v, name, ctx)
  end
  return v
end

check_value = function(field, v, name, ctx)
  if field.array then
    if type(v) == "string" and field.type ~= "object" then v = { v } end -- a lone value is a one-item array
    if type(v) ~= "table" then return invalid(name, "must be an array") end
    local n = rawlen(v)
    for k in next, v do
      if type(k) ~= "number" or k < 1 or k > n or k ~= math.floor(k) then
        return invalid(name, "must be an array (keys 1..n)")
      end
    end
    local out = json.array()
    for i = 1, n do
      local item, err = check_scalar(field, rawget(v, i), name .. "[" .. i .. "]", ctx)
      if item == nil then return nil, err end
      out[i] = item
    end
    return out
  end
  return check_scalar(field, v, name, ctx)
end

-- body(model_name, value [, opts]) -> normalized copy | nil, err
-- opts.split: the caller splits intervals longer than 90 days (aggregates flows); opts.now: the clock
function M.body(model_name, value, opts)
  local model = models.models[model_name]
  local ctx = { generation = model.generation, split = opts and opts.split, now = opts and opts.now }
  return check_object(model_name, value, "", ctx)
end

-- Mark the arrays of a body that is sent without validation, so empty ones still encode as [].
function M.mark_body(model_name, value)
  local model = models.models[model_name]
  if type(value) ~= "table" then return value end
  local out = {}
  for k, v in pairs(value) do
    local field = model.by_name[k]
    if field and field.array and type(v) == "table" then
      local arr = json.array()
      for i, item in ipairs(v) do
        arr[i] = (field.model and type(item) == "table") and M.mark_body(field.model, item) or item
      end
      out[k] = arr
    else
      out[k] = v
    end
  end
  return out
end

return M
