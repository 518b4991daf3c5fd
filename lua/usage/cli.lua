-- usage.cli: the genesys-usage command line.
--   genesys-usage <command> [options]      (bin/genesys-usage calls require("usage.cli").main(arg))
-- Every command maps to one flow of the library. Its body flags, their allowed values and which
-- command takes which are derived from the request model of the command's submit operation
-- (usage.operations, usage.models): field templateUris -> --template-uri, httpMethods -> --http-method,
-- groupBy -> --group-by (kebab-case, minus the plural "s" of arrays); path parameters (clientId ->
-- --client-id) and query parameters (days -> --days, pageSize -> --page-size) likewise.
-- main(argv) returns the exit status: 0 ok, 1 API or runtime failure, 2 usage error.

local operations = require "usage.operations"
local models = require "usage.models"
local interval = require "usage.interval"
local regions = require "usage.regions"
local validate = require "usage.validate"

local M = {}

local PROG = "genesys-usage"
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1 / LuaJIT global)
local format, concat = string.format, table.concat

local FORMATS = { "table", "csv", "json", "ndjson" }

---------------------------------------------------------------------------------------------------
-- failures: raised as tables, turned into one line and an exit status by main

local Failure = {}
Failure.__index = Failure

local function fail(status, message, hint)
  error(setmetatable({ status = status, message = message, hint = hint }, Failure), 0)
end

local function usage_error(message, command)
  fail(2, message, command and (PROG .. " " .. command .. " --help") or (PROG .. " --help"))
end

---------------------------------------------------------------------------------------------------
-- the commands

local COMMANDS = {
  {
    name = "query", flow = "query",
    submit = "postUsageQuery", read = "getUsageQueryExecutionIdResults",
    about = "Organization usage totals (old-generation query): submit, poll until Complete, print the rows.",
    examples = {
      "--last 7d --group-by OAuthClientId --metric Requests,Status429",
      "--interval 2025-01-01T00:00:00Z/2025-02-01T00:00:00Z --granularity Week --group-by TemplateUri,HttpMethod --format csv",
    },
  },
  {
    name = "client-query", flow = "client_query",
    submit = "postOauthClientUsageQuery", read = "getOauthClientUsageQueryResult",
    about = "Usage of one OAuth client (old-generation query), by day, week or month.",
    examples = {
      "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 30d --group-by TemplateUri",
      "--client-id e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 7d --format json",
    },
  },
  {
    name = "summary", flow = "client_summary",
    submit = "getOauthClientUsageSummary", read = "getOauthClientUsageQueryResult",
    about = "Daily usage summary of one OAuth client over the last N days.",
    examples = { "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --days 30" },
  },
  {
    name = "search", flow = "search",
    submit = "postUsageSimplesearch", read = "getUsageSimplesearchExecutionIdResults",
    about = "Simple search of usage records, streamed page by page (the API returns at most 20,000 rows).",
    examples = {
      "--last 24h --metric Date,ClientName,TemplateUri,Status429 --http-method POST --format ndjson",
      "--last 7d --oauth-client-name 'Bulk Export Service' --format csv --output search.csv",
    },
  },
  {
    name = "aggregates", flow = "aggregates",
    submit = "postUsageAggregatesQueryJobs", read = "getUsageAggregatesQueryJob",
    about = "Organization usage aggregates job (new generation): poll until Succeeded, stream every page.",
    examples = {
      "--last 30d --group-by OauthClientId,OauthClientName --sort-by requestCount:Desc",
      "--from 2025-03-01 --to 2025-03-31 --granularity Day --group-by TemplateUri --http-method GET --format csv",
      "--last 90d --group-by OauthClientId,TemplateUri,HttpMethod,UserId --format ndjson --output usage.ndjson",
    },
  },
  {
    name = "client-aggregates", flow = "client_aggregates",
    submit = "postUsageClientClientIdAggregatesQueryJobs", read = "getUsageClientClientIdAggregatesQueryJob",
    about = "Usage aggregates job of one OAuth client (new generation), streamed page by page.",
    examples = {
      "e1757718-6cd5-497a-8c0a-8a7aa9d882fd --last 30d --group-by OrganizationId,TemplateUri",
    },
  },
  {
    name = "report",
    submit = "postUsageAggregatesQueryJobs", read = "getUsageAggregatesQueryJob",
    -- the report sets these body fields itself; the others (filters) stay flags
    owns = { groupBy = true, granularity = true, metrics = true, sortBy = true },
    about = "Who spends the API quota: top OAuth clients and top endpoints (templateUri + method) by " ..
            "requests, with their 429 and 5xx ratios; optionally a chart of daily requests per top client.",
    examples = {
      "--last 30d",
      "--last 30d --top 5 --svg out/usage-report.svg",
      "--from 2025-03-01 --to 2025-03-31 --format csv --output report.csv --html report.html",
    },
    extra = {
      { name = "top", arg = "N", type = "integer", min = 1, max = 1000, default = 10,
        doc = "how many clients and endpoints to list (default 10)" },
      { name = "svg", arg = "FILE", type = "path", doc = "write an SVG chart of daily requests per top client" },
      { name = "html", arg = "FILE", type = "path",
        doc = "write a self-contained HTML page (the chart and both tables)" },
      { name = "scale", arg = "SCALE", type = "choice", values = { "auto", "linear", "log" }, default = "auto",
        doc = "y axis of the chart; auto picks log when the top clients differ by more than 100x" },
    },
  },
}

local COMMAND_BY_NAME = {}
for _, c in ipairs(COMMANDS) do COMMAND_BY_NAME[c.name] = c end
M.commands = COMMANDS

-- options every command takes (connection, output, progress)
local COMMON = {
  { name = "format", short = "f", arg = "FORMAT", type = "choice", values = FORMATS, default = "table",
    doc = "output format: table (aligned, with totals), csv (RFC 4180), json (one array), ndjson (a row a line)" },
  { name = "output", short = "o", arg = "FILE", type = "path",
    doc = "write to FILE (complete, or not at all) instead of standard output" },
  { name = "base-url", arg = "URL", type = "string",
    doc = "API base URL, e.g. http://127.0.0.1:8089 for the fake (env GENESYS_USAGE_BASE_URL); login goes there too" },
  { name = "region", arg = "REGION", type = "string",
    doc = "region key (eu_west_1, eu-west-1) or environment (mypurecloud.ie); env GENESYSCLOUD_REGION; default us_east_1" },
  { name = "timeout", arg = "SECONDS", type = "number", min = 0.001, max = 86400,
    doc = "timeout of each HTTP request (default 16)" },
  { name = "poll-interval", arg = "SECONDS", type = "number", min = 0.001, max = 3600,
    doc = "first wait before polling a query, doubling up to 8 s (default 1)" },
  { name = "poll-timeout", arg = "SECONDS", type = "number", min = 0.001, max = 7 * 86400,
    doc = "give up on a query that is still running after this long (default 300)" },
  { name = "quiet", short = "q", type = "bool", doc = "no progress line and no notes on stderr" },
  { name = "verbose", short = "v", type = "bool",
    doc = "one line per HTTP request on stderr (method, path, status, time, correlation id; never secrets)" },
  { name = "help", short = "h", type = "bool", doc = "show this help" },
  { name = "version", type = "bool", doc = "print the version" },
}

-- a flag may be known under another name too
local ALIASES = { ["sort-by"] = { "sort" } }

---------------------------------------------------------------------------------------------------
-- flags derived from the models and the operations

-- "templateUris" -> "template-uris"
local function kebab(name)
  return (name:gsub("(%l)(%u)", "%1-%2"):gsub("(%u)(%u%l)", "%1-%2"):lower())
end
M.kebab = kebab

-- the flag of a body field: kebab-case, minus the plural "s" of an array
local function field_flag(field)
  local name = kebab(field.name)
  if field.array and name:sub(-1) == "s" and name:sub(-2) ~= "ss" then name = name:sub(1, -2) end
  return name
end
M.field_flag = field_flag

local function upper_last_word(flag)
  return (flag:match("([%w]+)$") or flag):upper()
end

-- the metavariable of a value: for an object, its fields joined by ':' (optional ones in brackets)
local function metavar(field)
  if field.type == "object" then
    local model = models.models[field.model]
    local parts = {}
    for i, f in ipairs(model.fields) do
      local name = kebab(f.name):upper()
      parts[i] = (i == 1 and "" or (f.required and ":" or "[:")) .. name .. ((i > 1 and not f.required) and "]" or "")
    end
    return concat(parts)
  elseif field.type == "enum" then
    return "VALUE"
  end
  return upper_last_word(field_flag(field))
end

local function list_text(values)
  return concat(values, ", ")
end

local function op(name)
  return assert(operations.by_name[name], "no operation " .. name)
end

-- the row model of a read operation: the array of objects in its response model
local function row_model(read_op)
  for _, f in ipairs(models.models[read_op.response].fields) do
    if f.array and f.type == "object" then return f.model, f.name end
  end
end

-- Cursor parameters are the pager's business, not the user's.
local CURSOR = { after = true }

-- flags(cmd) -> { list = {...}, by_name = { name|alias|short -> flag } } (memoised)
local function command_flags(cmd)
  if cmd.flags then return cmd.flags end
  local submit, read = op(cmd.submit), op(cmd.read)
  local list = {}
  local function add(flag)
    flag.aliases = flag.aliases or ALIASES[flag.name]
    list[#list + 1] = flag
  end
  -- path parameters of the submit operation: --client-id (or the first argument)
  for _, p in ipairs(submit.params) do
    add { name = kebab(p), arg = upper_last_word(kebab(p)), kind = "param", param = p, type = "string",
          group = "target", doc = p .. " (path parameter; may also be given as the first argument)" }
  end
  -- the request body
  local body_model = submit.body and models.models[submit.body]
  if body_model then
    for _, f in ipairs(body_model.fields) do
      if not (cmd.owns and cmd.owns[f.name]) then
        if f.type == "interval" then
          cmd.interval_field = f
        else
          local flag = { name = field_flag(f), field = f, kind = "body", arg = metavar(f), group = "body",
                         type = f.type, array = f.array, values = f.enum }
          if f.type == "object" then
            local sub = {}
            for _, sf in ipairs(models.models[f.model].fields) do
              if sf.enum then sub[#sub + 1] = kebab(sf.name):upper() .. ": " .. list_text(sf.enum) end
            end
            flag.doc = f.name .. (f.array and " (repeatable, comma-separated)" or "") ..
                       (#sub > 0 and ("; " .. concat(sub, "; ")) or "")
          elseif f.enum then
            flag.doc = f.name .. (f.array and " (repeatable, comma-separated)" or "") .. ": " .. list_text(f.enum)
          else
            flag.doc = f.name .. (f.array and " (repeatable, one value each)" or "")
          end
          add(flag)
        end
      end
    end
  end
  -- query parameters of the submit and read operations (not the cursor)
  for _, o in ipairs { submit, read } do
    for _, qname in ipairs(o.query_names) do
      local q = o.query[qname]
      if not CURSOR[qname] then
        add { name = kebab(qname), arg = "N", kind = "query", query = qname,
              opt = operations.snake_case(qname), type = q.type == "digits" and "digits" or q.type,
              min = q.min, max = q.max, group = "query", doc = ((q.doc or qname):gsub("%(a string, ", "(")) }
      end
    end
  end
  for _, e in ipairs(cmd.extra or {}) do
    local flag = {}
    for k, v in pairs(e) do flag[k] = v end
    flag.kind, flag.group = "option", "command"
    add(flag)
  end
  for _, c in ipairs(COMMON) do
    local flag = {}
    for k, v in pairs(c) do flag[k] = v end
    flag.kind, flag.group = "option", "common"
    add(flag)
  end
  local by_name = {}
  for _, flag in ipairs(list) do
    by_name[flag.name] = flag
    for _, a in ipairs(flag.aliases or {}) do by_name[a] = flag end
    if flag.short then by_name["-" .. flag.short] = flag end
  end
  if cmd.interval_field then
    for k, f in ipairs {
      { name = "interval", arg = "START/END", kind = "interval", type = "string",
        doc = "ISO-8601 instants or dates, e.g. 2025-01-01T00:00:00Z/2025-02-01T00:00:00Z" },
      { name = "last", arg = "DURATION", kind = "interval", type = "string",
        doc = "the interval ending now: 24h, 7d, 30d, 2w (units s, m, h, d, w)" },
      { name = "from", arg = "TIME", kind = "interval", type = "string",
        doc = "start: an instant, a date, or a duration ago (7d)" },
      { name = "to", arg = "TIME", kind = "interval", type = "string", doc = "end (with --from; default now)" },
    } do
      f.group = "interval"
      by_name[f.name] = f
      table.insert(list, #submit.params + k, f)
    end
  end
  cmd.flags = { list = list, by_name = by_name, submit = submit, read = read,
                body_model = submit.body, pager = read.query.after ~= nil }
  cmd.row_model, cmd.rows_field = row_model(read)
  return cmd.flags
end
M.command_flags = command_flags

---------------------------------------------------------------------------------------------------
-- help

local function wrap(text, width, indent)
  local lines, line = {}, ""
  for word in text:gmatch("%S+") do
    if line ~= "" and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = word
    else
      line = line == "" and word or (line .. " " .. word)
    end
  end
  if line ~= "" then lines[#lines + 1] = line end
  return concat(lines, "\n" .. string.rep(" ", indent))
end

local function flag_usage(flag)
  local names = {}
  if flag.short then names[#names + 1] = "-" .. flag.short .. "," end
  names[#names + 1] = "--" .. flag.name
  local text = concat(names, " ")
  if flag.type ~= "bool" then text = text .. " " .. flag.arg end
  return text
end

local function flag_doc(flag)
  local doc = flag.doc or ""
  if flag.type == "choice" and not doc:find(flag.values[1], 1, true) then
    doc = doc .. " (" .. concat(flag.values, ", ") .. ")"
  end
  if flag.type == "integer" and flag.min and not doc:find("%d") then
    doc = doc .. format(" (%d..%d)", flag.min, flag.max)
  end
  if flag.aliases then
    local a = {}
    for i, n in ipairs(flag.aliases) do a[i] = "--" .. n end
    doc = doc .. "; alias " .. concat(a, ", ")
  end
  return doc
end

local function flag_lines(out, flags)
  for _, flag in ipairs(flags) do
    local left = "  " .. flag_usage(flag)
    local doc = flag_doc(flag)
    if #left >= 30 then
      out[#out + 1] = left
      left = string.rep(" ", 30)
    else
      left = left .. string.rep(" ", 30 - #left)
    end
    out[#out + 1] = left .. wrap(doc, 78, 30)
  end
end

local ENV_HELP = [[
Credentials and settings (environment):
  GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET
                              OAuth client credentials (client credentials grant)
  GENESYSCLOUD_ACCESS_TOKEN   a bearer token instead (used when set)
  GENESYSCLOUD_REGION         region key (us_east_1, eu-west-1) or environment (mypurecloud.ie)
  GENESYS_USAGE_BASE_URL      API base URL (like --base-url)
  GENESYS_USAGE_PROGRESS      1: always draw the progress line on stderr, 0: never
                              (default: when stderr is a terminal)
Exit status: 0 ok, 1 API or runtime failure, 2 usage error.]]

local function version_text()
  local v = require("usage.client").VERSION
  local engine = (type(jit) == "table" and jit.version) or _VERSION
  return format("%s %s (%s)", PROG, v, engine)
end

function M.help()
  local out = {
    PROG .. ": who spends the Genesys Cloud API quota (Usage API).",
    "",
    "usage: " .. PROG .. " <command> [options]",
    "       " .. PROG .. " <command> --help",
    "       " .. PROG .. " --version",
    "",
    "Commands:",
  }
  for _, c in ipairs(COMMANDS) do
    out[#out + 1] = "  " .. c.name .. string.rep(" ", 20 - #c.name) .. wrap(c.about, 78, 22)
  end
  out[#out + 1] = ""
  out[#out + 1] = "Every command takes an interval (--interval START/END, --last 7d, or --from/--to), except summary"
  out[#out + 1] = "(--days), and the output options --format table|csv|json|ndjson and --output FILE."
  out[#out + 1] = ""
  out[#out + 1] = ENV_HELP
  out[#out + 1] = ""
  out[#out + 1] = "Example: " .. PROG .. " report --last 30d --svg usage.svg"
  return concat(out, "\n") .. "\n"
end

local GROUP_TITLES = {
  { "target", "Target:" },
  { "interval", "Interval (required: --interval, --last, or --from [--to]):" },
  { "body", "Query (fields of the request body %s):" },
  { "query", "Query parameters:" },
  { "command", "Report:" },
  { "common", "Output, connection and general:" },
}

function M.command_help(cmd)
  local flags = command_flags(cmd)
  local submit, read = flags.submit, flags.read
  local out = {}
  local positional = #submit.params > 0 and (" [" .. kebab(submit.params[1]):upper() .. "]") or ""
  out[#out + 1] = "usage: " .. PROG .. " " .. cmd.name .. positional .. " [options]"
  out[#out + 1] = ""
  out[#out + 1] = wrap(cmd.about, 100, 0)
  local calls = submit.method .. " " .. submit.path
  if read ~= submit then calls = calls .. ", then " .. read.method .. " " .. read.path end
  out[#out + 1] = wrap("Calls " .. calls .. " (" .. submit.name .. ", " .. read.name .. "); needs one of the " ..
                       "permissions " .. concat(submit.permissions, ", ") .. ". Rows: " ..
                       tostring(cmd.row_model) .. ".", 100, 0)
  for _, g in ipairs(GROUP_TITLES) do
    local group = {}
    for _, flag in ipairs(flags.list) do
      if flag.group == g[1] then group[#group + 1] = flag end
    end
    if #group > 0 then
      out[#out + 1] = ""
      out[#out + 1] = format(g[2], tostring(flags.body_model))
      flag_lines(out, group)
    end
  end
  out[#out + 1] = ""
  out[#out + 1] = "Examples:"
  for _, e in ipairs(cmd.examples or {}) do out[#out + 1] = "  " .. PROG .. " " .. cmd.name .. " " .. e end
  out[#out + 1] = ""
  out[#out + 1] = ENV_HELP
  return concat(out, "\n") .. "\n"
end

---------------------------------------------------------------------------------------------------
-- parsing

local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function closest(word, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = distance(word, c)
    if (not best_d or d < best_d) then best, best_d = c, d end
  end
  if best and best_d <= math.max(2, math.floor(#word / 4)) then return best end
  return nil
end

local function unknown_flag(cmd, name, given)
  if given and not given:match("^%-%-") then
    usage_error("unknown option " .. given .. " for " .. cmd.name, cmd.name)
  end
  local flags = command_flags(cmd)
  local names = {}
  for n in pairs(flags.by_name) do
    if n:sub(1, 1) ~= "-" then names[#names + 1] = n end
  end
  table.sort(names)
  local msg = "unknown option --" .. name .. " for " .. cmd.name
  local others = {}
  for _, c in ipairs(COMMANDS) do
    if c ~= cmd and command_flags(c).by_name[name] then others[#others + 1] = c.name end
  end
  if #others > 0 then
    msg = msg .. " (it is an option of " .. concat(others, ", ") .. ")"
  else
    local guess = closest(name, names)
    if guess then msg = msg .. "; did you mean --" .. guess .. "?" end
  end
  usage_error(msg, cmd.name)
end

local canonical = validate.canonical -- enum values, case-insensitively, as the library takes them

local function split_commas(v)
  local out = {}
  for item in (v .. ","):gmatch("([^,]*),") do
    item = item:match("^%s*(.-)%s*$")
    if item ~= "" then out[#out + 1] = item end
  end
  return out
end

local function parse_number(cmd, flag, v)
  local n = tonumber(v)
  if not n or n ~= n then usage_error(format("--%s: %q is not a number", flag.name, v), cmd.name) end
  if flag.type == "integer" and n ~= math.floor(n) then
    usage_error(format("--%s: %q is not a whole number", flag.name, v), cmd.name)
  end
  if (flag.min and n < flag.min) or (flag.max and n > flag.max) then
    usage_error(format("--%s: %s is out of range (%s..%s)", flag.name, v, tostring(flag.min), tostring(flag.max)),
                cmd.name)
  end
  return n
end

local function enum_value(cmd, flag, values, v, what)
  local c = canonical(values, v)
  if not c then
    usage_error(format("--%s: %q is not a valid %s; allowed: %s", flag.name, v, what or "value", list_text(values)),
                cmd.name)
  end
  return c
end

-- "requestCount:Desc" -> { fieldName = "requestCount", order = "Desc" }
local function object_value(cmd, flag, v)
  local model = models.models[flag.field.model]
  local parts = {}
  for p in (v .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  if #parts > #model.fields then
    usage_error(format("--%s: %q has too many ':' parts (expected %s)", flag.name, v, flag.arg), cmd.name)
  end
  local obj = {}
  for i, f in ipairs(model.fields) do
    local p = parts[i]
    if p == nil or p == "" then
      if f.required then usage_error(format("--%s: %q lacks its %s", flag.name, v, f.name), cmd.name) end
    elseif f.enum then
      obj[f.name] = enum_value(cmd, flag, f.enum, p, f.name)
    else
      obj[f.name] = p
    end
  end
  return obj
end

-- Store the value of a flag into the parse state.
local function take(cmd, st, flag, v)
  local kind, t = flag.kind, flag.type
  if t ~= "bool" and (v == nil or v == "") then
    usage_error("--" .. flag.name .. " needs a value", cmd.name)
  end
  if kind == "body" then
    local f = flag.field
    local items = { v }
    if f.array and (f.enum or t == "object") then items = split_commas(v) end
    local parsed = {}
    for i, item in ipairs(items) do
      if t == "object" then
        parsed[i] = object_value(cmd, flag, item)
      elseif f.enum then
        parsed[i] = enum_value(cmd, flag, f.enum, item)
      elseif t == "integer" then
        parsed[i] = parse_number(cmd, { name = flag.name, type = "integer" }, item)
      else
        parsed[i] = item
      end
    end
    if f.array then
      local arr = st.body[f.name] or {}
      for _, p in ipairs(parsed) do arr[#arr + 1] = p end
      st.body[f.name] = arr
    else
      st.body[f.name] = parsed[1]
    end
  elseif kind == "param" then
    st.params[flag.param] = v
  elseif kind == "query" then
    if t == "digits" then
      if not v:match("^%d+$") or #v > 6 or tonumber(v) < 1 then
        usage_error(format("--%s: %q is not a positive whole number", flag.name, v), cmd.name)
      end
      st.opts[flag.opt] = v
    else
      st.opts[flag.opt] = parse_number(cmd, flag, v)
    end
  elseif kind == "interval" then
    st.interval[flag.name] = v
  else -- an option
    if t == "bool" then
      st.options[flag.name] = true
    elseif t == "number" or t == "integer" then
      st.options[flag.name] = parse_number(cmd, flag, v)
    elseif t == "choice" then
      st.options[flag.name] = enum_value(cmd, flag, flag.values, v)
    else
      st.options[flag.name] = v
    end
  end
end

local function looks_like_flag(v)
  return type(v) == "string" and v:match("^%-%-?%a") ~= nil and not v:match("^%-%d")
end

-- parse(cmd, argv, first) -> state { body, params, opts, options, interval, positionals }
local function parse(cmd, argv, first)
  local flags = command_flags(cmd)
  local st = { body = {}, params = {}, opts = {}, options = {}, interval = {}, positionals = {} }
  local i = first
  local n = #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then
      for k = i + 1, n do st.positionals[#st.positionals + 1] = argv[k] end
      break
    end
    local name, value
    if a:sub(1, 2) == "--" then
      name, value = a:match("^%-%-([^=]+)=(.*)$")
      if not name then name = a:sub(3) end
    elseif a:match("^%-%a$") then
      name = a
    elseif a:match("^%-%a.") and not a:match("^%-%d") then
      usage_error("unknown option " .. a .. " (long options start with --)", cmd.name)
    end
    if name then
      local flag = flags.by_name[name]
      if not flag then unknown_flag(cmd, (name:gsub("^%-", "")), a) end
      if flag.type == "bool" then
        if value ~= nil then usage_error("--" .. flag.name .. " takes no value", cmd.name) end
        take(cmd, st, flag, true)
      else
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil or looks_like_flag(value) then
            usage_error("--" .. flag.name .. " needs a value (" .. flag.arg .. ")", cmd.name)
          end
        end
        take(cmd, st, flag, value)
      end
    else
      st.positionals[#st.positionals + 1] = a
    end
    i = i + 1
  end
  return st
end
M.parse = parse

-- The interval of the body from --interval / --last / --from --to. -> "START/END"
local function build_interval(cmd, iv, now)
  local given = {}
  for _, k in ipairs { "interval", "last", "from" } do
    if iv[k] then given[#given + 1] = "--" .. k end
  end
  if #given > 1 then usage_error("give only one of " .. concat(given, ", "), cmd.name) end
  if iv.to and not iv.from then usage_error("--to needs --from", cmd.name) end
  local text
  if iv.interval then
    text = iv.interval
    local start, finish = interval.parse(text)
    if not start then usage_error("--interval: " .. finish, cmd.name) end
    if finish < start then usage_error("--interval: the end is before the start", cmd.name) end
  elseif iv.last then
    local secs, why = interval.duration(iv.last)
    if not secs then usage_error("--last: " .. why, cmd.name) end
    if secs <= 0 then usage_error("--last: the duration must be longer than 0", cmd.name) end
    if secs > 20 * 366 * 86400 then usage_error("--last: the duration is too long", cmd.name) end
    text = interval.last(secs, now)
  elseif iv.from then
    local function instant(name, v)
      local secs = interval.duration(v)
      if secs and v:match("%a$") then
        if secs > 20 * 366 * 86400 then usage_error(format("--%s: %q is too long ago", name, v), cmd.name) end
        return interval.format(now - secs), now - secs
      end
      local t, why = interval.parse_instant(v)
      if not t then usage_error(format("--%s: %q: %s (or a duration such as 7d)", name, v, why), cmd.name) end
      return v, t
    end
    local a, ta = instant("from", iv.from)
    local b, tb = interval.format(now), now
    if iv.to then b, tb = instant("to", iv.to) end
    if tb < ta then usage_error("--to is before --from", cmd.name) end
    text = a .. "/" .. b
  else
    usage_error("missing the interval: give --interval START/END, --last 7d, or --from TIME [--to TIME]", cmd.name)
  end
  return text
end

---------------------------------------------------------------------------------------------------
-- the run-time side: stderr (progress line, notes, verbose log), credentials, client

local function is_tty_stderr()
  local force = os.getenv("GENESYS_USAGE_PROGRESS")
  if force == "1" or force == "always" then return true end
  if force == "0" or force == "never" then return false end
  local r = os.execute("test -t 2")
  return r == true or r == 0
end

local function new_status(options, now_fn)
  local st = { quiet = options.quiet, drawn = false, last = -1 }
  st.progress_on = not options.quiet and is_tty_stderr()
  local err = io.stderr
  function st:done() -- the command is over: erase the progress line for good
    self:clear()
    self.progress_on = false
  end
  function st:clear()
    if self.drawn then
      err:write("\r\27[K")
      self.drawn = false
    end
  end
  function st:line(text) -- a whole line, above the progress line (drawn again below it)
    local was = self.drawn
    self:clear()
    err:write(text, "\n")
    if was and self.text then
      err:write(self.text)
      self.drawn = true
    end
    err:flush()
  end
  function st:note(text)
    if not self.quiet then self:line(PROG .. ": " .. text) end
  end
  function st:draw(text, force)
    if not self.progress_on then return end
    local t = now_fn()
    if not force and t - self.last < 0.1 then return end
    self.last, self.text = t, text
    err:write("\r\27[K", text)
    err:flush()
    self.drawn = true
  end
  return st
end

-- on_progress callback of the flows: one updating line
local function progress_fn(status, label, now_fn)
  if not status.progress_on then return nil end
  local t0 = now_fn()
  return function(s)
    status:draw(format("%s: %s  polls %d  pages %d  rows %d  %.1fs", label, tostring(s.state or "?"),
                       s.polls or 0, s.pages or 0, s.rows or 0, now_fn() - t0))
  end
end
M.progress_fn = progress_fn

local function verbose_logger(status)
  return function(level, message, fields)
    fields = fields or {}
    local parts = { PROG .. ":", (level == "info" and "" or (level .. " ")) .. (message or "") }
    if fields.status then parts[#parts + 1] = "-> " .. tostring(fields.status) end
    if fields.code then parts[#parts + 1] = tostring(fields.code) end
    if fields.elapsed then parts[#parts + 1] = format("%.0f ms", fields.elapsed * 1000) end
    if fields.attempt and fields.attempt > 1 then parts[#parts + 1] = "attempt " .. fields.attempt end
    if fields.retry_in then parts[#parts + 1] = format("retry in %.1f s", fields.retry_in) end
    if fields.correlation_id then parts[#parts + 1] = "correlation id " .. tostring(fields.correlation_id) end
    status:line(concat(parts, " "))
  end
end

local function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then return nil end
  return v
end

-- client options from the environment and the flags (raises a usage failure)
local function client_options(cmd, options, status)
  local o = { user_agent = PROG .. "/" .. require("usage.client").VERSION }
  local token = env("GENESYSCLOUD_ACCESS_TOKEN")
  local id, secret = env("GENESYSCLOUD_OAUTHCLIENT_ID"), env("GENESYSCLOUD_OAUTHCLIENT_SECRET")
  if token then
    o.access_token = token
  elseif id and secret then
    o.client_id, o.client_secret = id, secret
  else
    local missing = (id and "GENESYSCLOUD_OAUTHCLIENT_SECRET") or (secret and "GENESYSCLOUD_OAUTHCLIENT_ID") or
                    "GENESYSCLOUD_OAUTHCLIENT_ID and GENESYSCLOUD_OAUTHCLIENT_SECRET"
    fail(2, "no credentials: set " .. missing .. " (or GENESYSCLOUD_ACCESS_TOKEN)")
  end
  local region = options.region or env("GENESYSCLOUD_REGION")
  if region then
    local environment = regions.resolve(region)
    if not environment then
      local keys = {}
      for k in pairs(regions.by_key) do keys[#keys + 1] = k end
      table.sort(keys)
      usage_error(format("unknown region %q (%s); known: %s", region,
                         options.region and "--region" or "GENESYSCLOUD_REGION", concat(keys, ", ")), cmd.name)
    end
    o.environment = environment
  end
  o.base_url = options["base-url"] or env("GENESYS_USAGE_BASE_URL")
  o.timeout = options.timeout
  local poll = {}
  if options["poll-interval"] then
    poll.interval = options["poll-interval"]
    poll.max_interval = math.max(8, poll.interval)
  end
  if options["poll-timeout"] then poll.timeout = options["poll-timeout"] end
  if next(poll) then o.poll = poll end
  if options.verbose then o.logger = verbose_logger(status) end
  return o
end

local function new_client(cmd, usage, o)
  local ok, client = pcall(usage.new, o)
  if not ok then
    local msg = tostring(client):gsub("^[^\n]-:%d+: ", ""):gsub("^usage%.new: ", ""):gsub("option 'base_url'", "--base-url")
    usage_error(msg, cmd.name)
  end
  return client
end

-- An API or runtime error -> exit 1 (a body the library refuses -> exit 2)
local function api_failure(cmd, err)
  local usage = require "usage"
  if type(err) == "table" and usage.is_error(err) then
    if err.code == "validation" then
      usage_error("invalid query: " .. tostring(err.message), cmd.name)
    end
    fail(1, "error: " .. (tostring(err):gsub("^usage: ", "")))
  end
  error(err, 0)
end

---------------------------------------------------------------------------------------------------
-- output files: written to a temporary name, renamed when complete

local Sink = {}
Sink.__index = Sink

-- a file handle whose write failures (disk full, ...) end the command with one line
local function checked(fh, name)
  return {
    write = function(_, ...)
      local ok, why = fh:write(...)
      if not ok then fail(1, "cannot write " .. name .. ": " .. tostring(why)) end
      return true
    end,
    flush = function() return fh:flush() end,
  }
end

local function sh_quote(v)
  return "'" .. tostring(v):gsub("'", "'\\''") .. "'"
end

-- Is path something other than a regular file (a device, a FIFO, a directory)?
local function special_file(path)
  local r = os.execute("test -e " .. sh_quote(path) .. " && test ! -f " .. sh_quote(path))
  return r == true or r == 0
end

local function open_sink(path)
  if not path or path == "-" then
    return setmetatable({ fh = checked(io.stdout, "standard output"), raw = io.stdout, name = "standard output" },
                        Sink)
  end
  if special_file(path) then -- write straight into it: no temporary file, no rename
    local fh, why = io.open(path, "wb")
    if not fh then fail(1, "cannot write " .. path .. ": " .. tostring(why)) end
    return setmetatable({ fh = checked(fh, path), raw = fh, name = path, path = path, direct = true }, Sink)
  end
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" and not os.rename(dir, dir) then
    fail(1, "cannot write " .. path .. ": no directory " .. dir)
  end
  local tmp = format("%s.tmp-%d-%d", path, os.time(), math.random(1, 1e9))
  local fh, why = io.open(tmp, "wb")
  if not fh then fail(1, "cannot write " .. path .. ": " .. tostring(why)) end
  return setmetatable({ fh = checked(fh, path), raw = fh, name = path, path = path, tmp = tmp }, Sink)
end
M.open_sink = open_sink

function Sink:commit()
  if not self.tmp then
    local ok, why = self.raw:flush()
    if ok and self.direct then ok, why = self.raw:close() end
    if not ok then fail(1, "cannot write " .. self.name .. ": " .. tostring(why)) end
    return
  end
  local ok, why = self.raw:close()
  if not ok then
    os.remove(self.tmp)
    fail(1, "cannot write " .. self.path .. ": " .. tostring(why))
  end
  local renamed, err = os.rename(self.tmp, self.path)
  if not renamed then
    os.remove(self.tmp)
    fail(1, "cannot write " .. self.path .. ": " .. tostring(err))
  end
  self.tmp = nil
end

function Sink:abort()
  if self.direct then pcall(self.raw.close, self.raw) end
  if self.tmp then
    pcall(self.raw.close, self.raw)
    os.remove(self.tmp)
    self.tmp = nil
  end
end

-- write a whole file atomically (report charts)
function M.write_file(path, text)
  local s = open_sink(path)
  local ok, err = s.fh:write(text)
  if not ok then
    s:abort()
    fail(1, "cannot write " .. path .. ": " .. tostring(err))
  end
  s:commit()
end

---------------------------------------------------------------------------------------------------
-- running a command

local function run_command(cmd, st)
  local flags = command_flags(cmd)
  local options = st.options

  -- the path parameters: flags, or the first arguments
  for _, p in ipairs(flags.submit.params) do
    if not st.params[p] and #st.positionals > 0 then st.params[p] = table.remove(st.positionals, 1) end
    if not st.params[p] or st.params[p] == "" then
      usage_error(format("missing the %s: give --%s %s or it as the first argument", p, kebab(p),
                         upper_last_word(kebab(p))), cmd.name)
    end
  end
  if #st.positionals > 0 then usage_error(format("unexpected argument %q", st.positionals[1]), cmd.name) end

  local ok_lib, usage = pcall(require, "usage")
  if not ok_lib then
    fail(1, "cannot load the usage library (its C core usage.core is built by `make build`): " ..
            tostring(usage):match("^[^\n]*"))
  end
  local core = require "usage.core"
  local output = require "usage.cli_output"

  if flags.body_model and cmd.interval_field then
    st.body[cmd.interval_field.name] = build_interval(cmd, st.interval, core.time())
  end

  local status = new_status(options, core.now)
  local client = new_client(cmd, usage, client_options(cmd, options, status))
  local sink = open_sink(options.output)
  local fmt = options.format or "table"

  local ok, err = pcall(function()
    if cmd.name == "report" then
      local report = require "usage.report"
      local result, rerr = report.run {
        usage = usage, client = client, body = st.body, top = options.top or 10, format = fmt,
        out = sink.fh, svg = options.svg, html = options.html, scale = options.scale or "auto",
        page_size = st.opts.page_size, status = status, now = core.now,
        write_file = M.write_file,
      }
      if not result then api_failure(cmd, rerr) end
      return
    end
    local flow_opts = {}
    for k, v in pairs(st.opts) do flow_opts[k] = v end
    flow_opts.on_progress = progress_fn(status, cmd.name, core.now)
    local args = {}
    for _, p in ipairs(flags.submit.params) do args[#args + 1] = st.params[p] end
    if flags.body_model then args[#args + 1] = st.body end
    args[#args + 1] = flow_opts
    local writer = output.writer(fmt, sink.fh, output.columns(cmd.row_model))
    if flags.pager then
      local pager = client[cmd.flow](client, unpack(args))
      local okp, perr = pcall(function()
        for page in pager:pages() do writer:write(page) end
      end)
      status:done()
      if not okp then api_failure(cmd, perr) end
      writer:finish()
      if pager.truncated then
        status:note(format("note: the API returns at most %d rows for a %s; the result was cut there",
                           pager.row_count, cmd.name))
      end
    else
      local result, rerr = client[cmd.flow](client, unpack(args))
      status:done()
      if not result then api_failure(cmd, rerr) end
      local rows = result[cmd.rows_field]
      writer:write(type(rows) == "table" and rows or {})
      writer:finish()
    end
  end)
  status:done()
  if not ok then
    sink:abort()
    error(err, 0)
  end
  sink:commit()
  if sink.path then status:note("wrote " .. sink.path) end
  client:close()
  return 0
end

local function main(argv)
  local first = argv[1]
  if first == nil then
    io.stderr:write(M.help())
    return 2
  end
  if first == "--help" or first == "-h" or first == "help" then
    local topic = argv[2]
    if topic and COMMAND_BY_NAME[topic] then
      io.stdout:write(M.command_help(COMMAND_BY_NAME[topic]))
    elseif topic then
      usage_error("unknown command " .. topic)
    else
      io.stdout:write(M.help())
    end
    return 0
  end
  if first == "--version" or first == "version" then
    io.stdout:write(version_text(), "\n")
    return 0
  end
  local cmd = COMMAND_BY_NAME[first]
  if not cmd then
    local names = {}
    for i, c in ipairs(COMMANDS) do names[i] = c.name end
    if first:sub(1, 1) == "-" then
      usage_error("expected a command before " .. first .. " (one of " .. concat(names, ", ") .. ")")
    end
    local guess = closest(first, names)
    usage_error("unknown command " .. first .. (guess and ("; did you mean " .. guess .. "?") or
                (" (commands: " .. concat(names, ", ") .. ")")))
  end
  for i = 2, #argv do
    if argv[i] == "--" then break end
    if argv[i] == "--help" or argv[i] == "-h" then
      io.stdout:write(M.command_help(cmd))
      return 0
    end
  end
  local st = parse(cmd, argv, 2)
  if st.options.help then
    io.stdout:write(M.command_help(cmd))
    return 0
  end
  if st.options.version then
    io.stdout:write(version_text(), "\n")
    return 0
  end
  return run_command(cmd, st)
end

-- main(argv) -> exit status; never raises, never prints a traceback (unless GENESYS_USAGE_DEBUG=1).
function M.main(argv)
  argv = argv or {}
  local ok, result = xpcall(main, function(e)
    if getmetatable(e) == Failure then return e end
    return { internal = true, message = tostring(e), trace = debug.traceback("", 2) }
  end, argv)
  if ok then
    io.stdout:flush()
    return result or 0
  end
  pcall(io.stdout.flush, io.stdout)
  if getmetatable(result) == Failure then
    local line = PROG .. ": " .. tostring(result.message):gsub("[\r\n]+", " ")
    if result.hint then line = line .. " (see " .. result.hint .. ")" end
    io.stderr:write(line, "\n")
    return result.status
  end
  if tostring(result.message):find("interrupted!$") then -- Ctrl-C (SIGINT) while Lua code ran
    io.stderr:write(PROG .. ": interrupted\n")
    return 130
  end
  io.stderr:write(PROG .. ": internal error: " .. tostring(result.message):gsub("[\r\n]+", " "), "\n")
  if os.getenv("GENESYS_USAGE_DEBUG") == "1" then io.stderr:write(tostring(result.trace), "\n") end
  return 1
end

return M
