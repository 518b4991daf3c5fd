-- usage.cli.call: one call of a library flow (usage.flows) as the command line gives it. The flags are
-- derived from what the library describes, so a flag, the flow and its operation cannot disagree:
--   target        the path parameters of the flow (clientId -> --client-id, also the first argument) and
--                 --job (read an existing job) where the flow takes opts.job: their entries of the
--                 argument engine (usage.api.params: flag, arg, doc and converter)
--   body fields   the request model of the flow's submit operation (usage.api.models): templateUris ->
--                 --template-uri, httpMethods -> --http-method, groupBy -> --group-by, sortBy -> --sort-by
--                 (kebab-case, minus the plural "s" of arrays); enum values from the model's enums, sort
--                 fields from the row model (usage.cli.columns); converters of usage.api.params.text
--   query params  of the submit and read operations (days -> --days, pageSize -> --page-size): their
--                 entries, with the limits the library checks; the cursor stays the pager's business
-- The days of the body's interval are usage.cli.days' group, which a command adds between these.
--   call.add_target(cmd, flow)                              -- the Target group of an argparse command
--   call.add_query(cmd, flow [, { owns =, aliases = }])     -- its Query and Query parameters groups
--   local params = call.params(args, flow)                  -- the path parameters from argparse's result
--   local c = call.request(args, flow, now, params)         -- the call
-- A call is { flow, params = { clientId = ... }, body = { ... } | nil, opts = { job =, page_size =, days = },
-- name = the command's name, days = Days | nil, days_note = what to say about the days read | nil,
-- window_note = what the output may lack | nil, days_text = the days in other words (a command that
-- reads them otherwise sets it) | nil }: what usage.cli.run runs and usage.cli.dryrun shows.
-- Every value is checked as argparse reads it (a converter per flag): a bad one is a usage error, exit 2.

local models = require "usage.api.models"
local params_mod = require "usage.api.params"
local columns = require "usage.cli.columns"
local days_mod = require "usage.cli.days"
local failure = require "usage.cli.failure"

local M = {}

local format, concat = string.format, table.concat
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)

-- "templateUris" -> "template-uris"
local function kebab(name)
  return (name:gsub("(%l)(%u)", "%1-%2"):gsub("(%u)(%u%l)", "%1-%2"):lower())
end

-- the key of a flag in argparse's result: --template-uri -> template_uri
local function key(flag) return (flag:gsub("%-", "_")) end

-- the flag of a body field: kebab-case, minus the plural "s" of an array
local function field_flag(field)
  local name = kebab(field.name)
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
-- converters: text -> value | nil, "--flag: message" (argparse turns the message into the usage error)

local text = params_mod.text
local E = params_mod.entries

local function quoted(v)
  v = tostring(v)
  if #v > 40 then v = v:sub(1, 37) .. "..." end
  return (format("%q", v):gsub("\\\n", "\\n"))
end

-- "requestCount:Desc" -> { fieldName = "requestCount", order = "Desc" }, comma-separated; the parts as
-- the object's model has them (fieldName from the sort fields of the rows, order from its enum)
local function object_list(flag, field, sort_fields)
  local model = models.models[field.model]
  return function(v)
    local out = {}
    for _, item in ipairs(text.split_commas(v)) do
      local parts = {}
      for p in (item .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
      if #parts > #model.fields then return nil, format("--%s: %s has too many ':' parts", flag, quoted(item)) end
      local obj = {}
      for i, f in ipairs(model.fields) do
        local p = parts[i]
        if p and p ~= "" then
          local allowed = f.enum or (f.name == "fieldName" and sort_fields) or nil
          local c, why = p, nil
          if allowed then c, why = text.choice(flag, allowed, f.name)(p) end
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

---------------------------------------------------------------------------------------------------
-- the flags

-- the body fields that become flags: every field but the interval (the days' group) and those the
-- command sets itself (owns)
local function body_fields(flow, owns)
  local out = {}
  local model = flow.body and models.models[flow.body]
  for _, f in ipairs(model and model.fields or {}) do
    if f.type ~= "interval" and not (owns and owns[f.name]) then out[#out + 1] = f end
  end
  return out
end

-- the query parameters that become flags: the entries of the submit and read operations' query that have
-- one (the cursor has none: the pager's business)
local function query_entries(flow)
  local out = {}
  for _, op in ipairs { flow.submit_op, flow.read_op } do
    for _, qname in ipairs(op.query_names) do
      local e = op.query[qname]
      if e.flag then out[#out + 1] = e end
    end
  end
  return out
end

-- add_target(cmd, flow): the Target group: each path parameter of the flow (the first one may also be the
-- first argument), and --job where the flow reads existing jobs
function M.add_target(cmd, flow)
  local list = {}
  for i, p in ipairs(flow.params) do
    local e = E[p]
    if i == 1 then -- (its own key: given both ways, the two must agree)
      cmd:argument(e.flag, "the " .. p .. " (or --" .. e.flag .. ")"):args("?"):argname(e.flag:upper())
         :target(key(e.flag) .. "_argument"):convert(e.convert)
    end
    list[#list + 1] = cmd:option("--" .. e.flag, e.doc .. " (may also be given as the first argument)")
                         :argname(e.arg):target(key(e.flag)):convert(e.convert):overwrite(false)
  end
  local job = flow.options.job
  if job then
    list[#list + 1] = cmd:option("--" .. job.flag, job.doc .. "; the days and body flags are then not needed")
                         :argname(job.arg):target(key(job.flag)):convert(job.convert):overwrite(false)
  end
  if #list > 0 then cmd:group("Target", unpack(list)) end
end

-- add_query(cmd, flow [, opts]): the Query group (the body fields but those in opts.owns, a set of field
-- names the command sets itself; opts.aliases: flag -> { other names }) and the Query parameters group
function M.add_query(cmd, flow, opts)
  opts = opts or {}
  local body = {}
  local sort_fields = columns.sort_fields((M.row_model(flow)))
  for _, f in ipairs(body_fields(flow, opts.owns)) do
    local name = field_flag(f)
    local arg, convert, doc
    if f.type == "object" then
      local sub = models.models[f.model]
      local parts, docs = {}, {}
      for i, sf in ipairs(sub.fields) do
        local part = sf.name:gsub("Name$", ""):upper() -- fieldName -> FIELD, order -> ORDER
        parts[i] = (i > 1 and ":" or "") .. part
        docs[i] = part .. ": " .. concat(sf.enum or (sf.name == "fieldName" and sort_fields) or { "text" }, ", ")
      end
      arg = parts[1] .. "[" .. concat(parts, "[", 2) .. string.rep("]", #parts - 1)
      convert = object_list(name, f, sort_fields)
      doc = f.name .. " (repeatable, comma-separated; both parts optional); " .. concat(docs, "; ")
    elseif f.enum then
      arg = "VALUE"
      convert = f.array and text.list(name, text.choice(name, f.enum)) or text.choice(name, f.enum)
      doc = f.name .. (f.array and " (repeatable, comma-separated): " or ": ") .. concat(f.enum, ", ")
    else
      arg = (name:match("([%w]+)$") or name):upper()
      convert = function(v) return f.array and { v } or v end
      doc = f.name .. (f.array and " (repeatable, one value each)" or "")
    end
    local names = "--" .. name
    for _, a in ipairs(opts.aliases and opts.aliases[name] or {}) do names = names .. " --" .. a end
    local o = cmd:option(names, doc):argname(arg):convert(convert):target(key(name))
    if f.array then
      o:count("*"):action("concat"):init(nil) -- (each use adds its values: one list)
    else
      o:overwrite(false) -- (a setting given twice is an error)
    end
    body[#body + 1] = o
  end
  if #body > 0 then cmd:group(format("Query (fields of the request body %s)", flow.body), unpack(body)) end
  local query = {}
  for _, e in ipairs(query_entries(flow)) do
    query[#query + 1] = cmd:option("--" .. e.flag, e.doc):argname(e.arg):target(key(e.flag)):convert(e.convert)
                           :overwrite(false)
  end
  if #query > 0 then cmd:group("Query parameters", unpack(query)) end
end

---------------------------------------------------------------------------------------------------
-- reading argparse's result

-- params(args, flow) -> { [path parameter] = id }: each given as the first argument or with its flag
-- (the same id both ways); a missing one is a usage error
function M.params(args, flow)
  local out = {}
  for i, p in ipairs(flow.params) do
    local flag = E[p].flag
    local given, first = args[key(flag)], i == 1 and args[key(flag) .. "_argument"] or nil
    if given and first and given ~= first then failure.usage("the " .. p .. " is given twice, differently", args.command) end
    out[p] = given or first
    if not out[p] then
      failure.usage("missing the " .. p .. ": give it as the first argument or --" .. flag .. " ID", args.command)
    end
  end
  return out
end

-- request(args, flow, now, params) -> the call (see the top): the body of the body flags and the days (whole
-- UTC days, in the interval each generation reads), the flow's options (--job, the query parameters).
-- Usage errors: --job with days or body flags, days missing where the body needs an interval, an aggregates
-- job starting more than a year ago.
function M.request(args, flow, now, params)
  local name = args.command
  local body, opts = {}, {}
  local body_given = false
  for _, f in ipairs(body_fields(flow)) do
    local v = args[key(field_flag(f))]
    if v ~= nil then body[f.name], body_given = v, true end
  end
  for _, e in ipairs(query_entries(flow)) do
    local v = args[key(e.flag)]
    if v ~= nil then opts[e.option or e.name] = v end
  end
  if flow.options.job then opts.job = args[key(flow.options.job.flag)] end
  local c = { flow = flow, params = params, opts = opts, name = name }
  if opts.job then
    if body_given or days_mod.given(args) then
      failure.usage("--job reads the job as it was submitted: leave out the days and the query flags", name)
    end
    return c -- (no body: the job's own)
  end
  local days, note = days_mod.read(args, now)
  local interval_field = flow.body and models.models[flow.body].by_name.interval
  if not days and interval_field then
    failure.usage("missing the days: give --last 7d, --from DAY [--to DAY], --yesterday, --this-month, " ..
                  "--last-month, --month YYYY-MM or --interval START/END", name)
  end
  if days and flow.generation == "jobs" then
    local ok, limit = days_mod.check_job_start(days, now)
    if not ok then failure.usage(limit, name) end
  elseif days then
    c.window_note = days_mod.window_note(days, now)
  end
  c.days, c.days_note = days, note
  if flow.body then
    if days then body.interval = days[flow.generation == "jobs" and "jobs" or "query"] end
    c.body = body
  end
  return c
end

return M
