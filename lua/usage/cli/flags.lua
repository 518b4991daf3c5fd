-- usage.cli.flags: the flags of each command, derived from what the library describes.
--   body fields   the request model of the command's submit operation (usage.api.models): templateUris ->
--                 --template-uri, httpMethods -> --http-method, groupBy -> --group-by, sortBy -> --sort-by
--                 (kebab-case, minus the plural "s" of arrays); enum values from the model's enums, sort
--                 fields from the row model (usage.cli.columns)
--   path params   clientId -> --client-id (or the first argument)
--   query params  of the submit and read operations (days -> --days, pageSize -> --page-size), with their
--                 limits from usage.api.operations; the cursor stays the pager's business
--   flow options  --job (read an existing job) where the flow takes opts.job
--   days          usage.cli.days, for commands whose body has an interval
--   settings      limits and defaults from usage.client.options (timeouts, polling)
-- A flag is { name, kind, arg (metavariable or nil for a switch), doc, group, repeatable, convert =
-- function(text) -> value | nil, message, target (body field, param or option name), aliases }.

local models = require "usage.api.models"
local limits = require "usage.api.limits"
local params = require "usage.api.params"
local validate = require "usage.api.validate"
local flows = require "usage.flows"
local columns = require "usage.cli.columns"
local days = require "usage.cli.days"

local M = {}

local format, concat = string.format, table.concat

-- "templateUris" -> "template-uris"
function M.kebab(name)
  return (name:gsub("(%l)(%u)", "%1-%2"):gsub("(%u)(%u%l)", "%1-%2"):lower())
end

-- the flag of a body field: kebab-case, minus the plural "s" of an array
function M.field_flag(field)
  local name = M.kebab(field.name)
  if field.array and name:sub(-1) == "s" and name:sub(-2) ~= "ss" then name = name:sub(1, -2) end
  return name
end

-- row_model(flow) -> the model of the rows in its read operation's answer, and the field holding them
function M.row_model(flow)
  for _, f in ipairs(models.models[flow.read_op.response].fields) do
    if f.array and f.type == "object" then return f.model, f.name end
  end
end

---------------------------------------------------------------------------------------------------
-- values

local function quoted(v)
  v = tostring(v)
  if #v > 40 then v = v:sub(1, 37) .. "..." end
  return (format("%q", v):gsub("\\\n", "\\n"))
end

-- an id (path parameter, job id): what usage.api.params.id accepts, checked here so that a bad one is a usage error
function M.id(flag)
  return function(v)
    if v == "" or v == "." or v == ".." then return nil, format("--%s: %s is not an id", flag, quoted(v)) end
    if v:find("%c") then return nil, format("--%s: an id has no control characters", flag) end
    if #v > limits.MAX_ID then
      return nil, format("--%s: an id has at most %d characters, this one %d", flag, limits.MAX_ID, #v)
    end
    return v
  end
end

function M.number(flag, spec, integer)
  return function(v)
    local n = tonumber(v)
    if not n or n ~= n or not v:match("^[%d%.eE%+%-]+$") then
      return nil, format("--%s: %s is not a number", flag, quoted(v))
    end
    if integer and n ~= math.floor(n) then return nil, format("--%s: %s is not a whole number", flag, quoted(v)) end
    if (spec.min and n < spec.min) or (spec.max and n > spec.max) then
      return nil, format("--%s: %s is out of range (%s..%s)", flag, v, tostring(spec.min), tostring(spec.max))
    end
    return n
  end
end

-- one of a few words, without case
function M.choice(flag, values, what)
  return function(v)
    local c = validate.canonical(values, v)
    if not c then
      return nil, format("--%s: %s is not a valid %s; allowed: %s", flag, quoted(v), what or "value", concat(values, ", "))
    end
    return c
  end
end

local function split_commas(v)
  local out = {}
  for item in (v .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if item ~= "" then out[#out + 1] = item end
  end
  return out
end

-- enum values of an array field, comma-separated -> array of canonical spellings
local function enum_list(flag, enum)
  local one = M.choice(flag, enum)
  return function(v)
    local out = {}
    for i, item in ipairs(split_commas(v)) do
      local c, why = one(item)
      if not c then return nil, why end
      out[i] = c
    end
    if #out == 0 then return nil, "--" .. flag .. " needs a value" end
    return out
  end
end

-- "requestCount:Desc" -> { fieldName = "requestCount", order = "Desc" }, comma-separated; the parts as
-- the object's model has them (fieldName from the sort fields of the rows, order from its enum)
local function object_list(flag, field, sort_fields)
  local model = models.models[field.model]
  return function(v)
    local out = {}
    for _, item in ipairs(split_commas(v)) do
      local parts = {}
      for p in (item .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
      if #parts > #model.fields then return nil, format("--%s: %s has too many ':' parts", flag, quoted(item)) end
      local obj = {}
      for i, f in ipairs(model.fields) do
        local p = parts[i]
        if p and p ~= "" then
          local allowed = f.enum or (f.name == "fieldName" and sort_fields) or nil
          local c, why = p, nil
          if allowed then c, why = M.choice(flag, allowed, f.name)(p) end
          if not c then return nil, why end
          obj[f.name] = c
        elseif f.required then
          return nil, format("--%s: %s lacks its %s", flag, quoted(item), f.name)
        end
      end
      out[#out + 1] = obj
    end
    if #out == 0 then return nil, "--" .. flag .. " needs a value" end
    return out
  end
end

local function digits(flag)
  return function(v)
    if not v:match("^%d%d?%d?%d?%d?%d?$") or tonumber(v) < 1 then
      return nil, format("--%s: %s is not a whole number of at least 1", flag, quoted(v))
    end
    return v
  end
end

---------------------------------------------------------------------------------------------------
-- the flags of a command

local function body_flags(cmd, flow, add)
  local model = flow.body and models.models[flow.body]
  if not model then return end
  local sort_fields = columns.sort_fields(M.row_model(flow))
  for _, f in ipairs(model.fields) do
    if f.type ~= "interval" and not (cmd.owns and cmd.owns[f.name]) then
      local name = M.field_flag(f)
      local flag = { name = name, kind = "body", target = f.name, group = "body", repeatable = f.array }
      if f.type == "object" then
        local sub = models.models[f.model]
        local parts, docs = {}, {}
        for i, sf in ipairs(sub.fields) do
          local part = sf.name:gsub("Name$", ""):upper() -- fieldName -> FIELD, order -> ORDER
          parts[i] = (i > 1 and ":" or "") .. part
          docs[i] = part .. ": " .. concat(sf.enum or (sf.name == "fieldName" and sort_fields) or { "text" }, ", ")
        end
        flag.arg = parts[1] .. "[" .. concat(parts, "[", 2) .. string.rep("]", #parts - 1)
        flag.convert = object_list(name, f, sort_fields)
        flag.doc = f.name .. " (repeatable, comma-separated; both parts optional); " .. concat(docs, "; ")
      elseif f.enum then
        flag.arg = "VALUE"
        flag.convert = f.array and enum_list(name, f.enum) or M.choice(name, f.enum)
        flag.doc = f.name .. (f.array and " (repeatable, comma-separated): " or ": ") .. concat(f.enum, ", ")
      else
        flag.arg = (name:match("([%w]+)$") or name):upper()
        flag.convert = function(v) return f.array and { v } or v end
        flag.doc = f.name .. (f.array and " (repeatable, one value each)" or "")
      end
      add(flag)
    end
  end
end

local function query_flags(flow, add)
  for _, op in ipairs { flow.submit_op, flow.read_op } do
    for _, qname in ipairs(op.query_names) do
      local q = op.query[qname]
      if qname ~= "after" then -- the cursor: the pager's business
        local name = M.kebab(qname)
        local doc = (q.doc or qname):gsub("%(a string, ", "(")
        add { name = name, kind = "query", target = q.option or qname, arg = "N", group = "query",
              doc = doc, convert = q.type == "digits" and digits(name) or M.number(name, q, q.type == "integer") }
      end
    end
  end
end


-- the settings every command takes (output, credentials, connection, general)
local function common_flags(cmd, add)
  local fmts = cmd.formats
  if fmts then
    add { name = "format", short = "f", arg = "FORMAT", kind = "option", group = "output", convert = M.choice("format", fmts),
          doc = "output format: " .. concat(fmts, ", ") .. "; default: from the --output file's extension, else table" }
  end
  add { name = "output", short = "o", arg = "FILE", kind = "option", group = "output",
        doc = "write to FILE, complete or not at all (a temporary file renamed at the end)" }
  if fmts then add { name = "bom", kind = "option", group = "output", doc = "start CSV with a UTF-8 byte order mark (Excel)" } end
  if fmts then
    add { name = "raw-csv", kind = "option", group = "output",
          doc = "CSV text cells exactly as the server sent them (by default a cell that a spreadsheet would run " ..
                "as a formula, starting with = + - @ tab or CR, gets a leading ')" }
  end
  add { name = "dry-run", kind = "option", group = "output",
        doc = "print the requests that would be sent (method, path, JSON body) and the days; send nothing" }
  add { name = "profile", arg = "NAME", kind = "option", group = "connection", convert = function(v)
          if v == "" or v:find("%c") then return nil, "--profile: expected the name of a profile" end
          return v
        end,
        repeatable = cmd.many_profiles or nil, -- (a command over several orgs: one per profile)
        doc = "profile of the gc CLI's ~/.gc/config.toml; given, it wins over the GENESYSCLOUD_* variables " ..
              "(not read then); default: the profile default, which the variables override" ..
              (cmd.many_profiles and "; repeat it for several orgs in one run" or "") }
  add { name = "region", arg = "REGION", kind = "option", group = "connection",
        doc = "region (eu-west-1, eu_west_1) or environment (mypurecloud.ie); default: GENESYSCLOUD_REGION, " ..
              "the profile's environment, else us-east-1" }
  add { name = "base-url", arg = "URL", kind = "option", group = "connection",
        doc = "API base URL, e.g. http://127.0.0.1:8089 for the fake; default GENESYS_USAGE_BASE_URL; logins go there too" }
  add { name = "timeout", arg = "SECONDS", kind = "option", group = "connection", convert = M.number("timeout", params.client.entries.timeout),
        doc = format("timeout of each HTTP request (default %g)", limits.TIMEOUT) }
  add { name = "poll-interval", arg = "SECONDS", kind = "option", group = "connection",
        convert = M.number("poll-interval", params.poll.entries.interval),
        doc = format("first wait before polling a query, doubling up to %g s (default %g)", limits.POLL_MAX_INTERVAL,
                     limits.POLL_INTERVAL) }
  add { name = "poll-timeout", arg = "SECONDS", kind = "option", group = "connection",
        convert = M.number("poll-timeout", params.poll.entries.timeout),
        doc = format("give up on a query still running after this long (default %g)", limits.POLL_TIMEOUT) }
  add { name = "quiet", short = "q", kind = "option", group = "general", doc = "no progress line and no notes on stderr" }
  add { name = "verbose", short = "v", kind = "option", group = "general",
        doc = "one line per HTTP request on stderr (method, path, status, time, correlation id; never secrets)" }
  add { name = "help", short = "h", kind = "option", group = "general", doc = "show this help" }
end

-- for_command(cmd) -> { list, by_name, flow, row_model, days = "required"|"optional"|nil } (memoised)
function M.for_command(cmd)
  if cmd.flags then return cmd.flags end
  local flow = cmd.flow and flows.by_name[cmd.flow]
  local list, by_name = {}, {}
  local function add(flag)
    flag.aliases = flag.aliases or (cmd.aliases and cmd.aliases[flag.name])
    list[#list + 1] = flag
    by_name[flag.name] = flag
  end
  local out = { list = list, by_name = by_name, flow = flow, days = cmd.days }
  if flow then
    out.row_model, out.rows_field = M.row_model(flow)
    for _, p in ipairs(flow.params) do
      local name = M.kebab(p)
      add { name = name, kind = "param", target = p, arg = "ID", group = "target", convert = M.id(name),
            doc = p .. " (may also be given as the first argument)" }
    end
    if flow.body and models.models[flow.body].by_name.interval then out.days = "required" end
  end
  if out.days then
    for _, d in ipairs(days.FLAGS) do
      add { name = d.name, kind = "days", arg = d.value, group = "days", doc = d.doc }
    end
  end
  if flow then
    body_flags(cmd, flow, add)
    query_flags(flow, add)
    if flow.options.job and not cmd.owns then -- (a command that builds its own bodies reads no given job)
      add { name = "job", kind = "flow", target = "job", arg = "ID", group = "target", convert = M.id("job"),
            doc = "read the results of this existing job (its id is printed when a job starts) instead of " ..
                  "submitting a new one; the days and body flags are then not needed" }
    end
  end
  for _, e in ipairs(cmd.extra or {}) do
    local flag = {}
    for k, v in pairs(e) do flag[k] = v end
    flag.kind, flag.group = "option", "command"
    add(flag)
  end
  common_flags(cmd, add)
  cmd.flags = out
  return out
end

return M
