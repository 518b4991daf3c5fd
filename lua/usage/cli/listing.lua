-- usage.cli.listing: what the listing commands (query, client-query, summary, search, aggregates,
-- client-aggregates) do once argparse has read their flags: run one library flow with the call of the
-- flags (usage.cli.call) and write its rows as a table, CSV, JSON or NDJSON (usage.cli.formats), under a
-- header that names the days. No complete day yet (the 1st of a month, --this-month): nothing is sent,
-- and the output is empty.
--   listing.run(args, session, flow [, adjust])
--   return listing.command { name = "aggregates", flow = flows.by_name.aggregates, about = ..., examples = {...},
--                            aliases = { ["sort-by"] = { "sort" } }, store = true }
--     -- the module of a listing command (commands/*.lua): its name, add_to(parser) with the flow's flags
--     -- (usage.cli.call), the days, the row formats, [the History store,] the connection and the terminal's
--     -- flags, in that order of --help; run(args, session) is listing.run with its flow
-- With --store (aggregates: the option group usage.cli.store, with --org) the rows are
-- the history store's daily rows of the asked whole days, summed by the --group-by dimensions the store
-- keeps (OAuth client, endpoint, method) and the granularity (weeks start on Monday, UTC), filtered as
-- the job would be; no job runs and no credentials are read. The days the store lacks are said.
-- (Not client-aggregates: that job counts the client's requests in every org it is used in, a store one org's.)
-- adjust(call, now) -> keep, seen (the summary's: its days): called once the call is read; keep(row) ->
-- bool filters the rows of a one-answer flow, seen(rows, meta) -> Days | nil sees them before they are
-- written (and may name their days in meta).

local text = require "usage.base.text"
local interval = require "usage.base.interval"
local rows_mod = require "usage.base.rows"
local history = require "usage.history"
local limits = require "usage.api.limits"
local call_mod = require "usage.cli.call"
local columns = require "usage.cli.columns"
local connection = require "usage.cli.connection"
local days_mod = require "usage.cli.days"
local dryrun = require "usage.cli.dryrun"
local failure = require "usage.cli.failure"
local formats = require "usage.cli.formats"
local output = require "usage.cli.output"
local run = require "usage.cli.run"
local help = require "usage.cli.help"
local term_mod = require "usage.cli.term"
local store_opt = require "usage.cli.store"
local NAME = require("usage.cli.program").NAME

local M = {}

-- granularity Week: the service's buckets are taken to start on Monday (UTC) (docs/service.md)
local WEEK_NOTE = "weeks are taken to start on Monday (UTC): each week's row is dated its Monday"

-- the rows of a one-answer flow's result (an array, or a bad_response failure)
local function rows_of(result, field)
  local rows = result[field]
  if rows == nil then return {} end
  if type(rows) ~= "table" then failure.runtime("error: bad_response: " .. field .. " is not an array") end
  return rows
end

-- the first line of the table format: the command and its days, or the job read again
local function header(c)
  if c.days then return c.name .. ": " .. days_mod.describe(c.days) end
  if c.opts.job then return c.name .. ": job " .. c.opts.job .. " (the days it was submitted with)" end
  return nil
end

-- write(session, args, c, creds, fmt, out, keep, seen): run the call, its rows into out as fmt
local function write(s, args, c, creds, fmt, out, keep, seen)
  local flow = c.flow
  local row_model, rows_field = call_mod.row_model(flow)
  local week = c.body and c.body.granularity == "Week"
  local meta = { command = c.name, days = c.days, header = header(c), week_start = week or nil }
  local cols = c.body and columns.select(row_model, flow.body, c.body) or nil
  local writer = formats.writer(fmt, out.fh, { columns = cols, row_model = row_model, meta = meta, bom = args.bom,
                                               raw_csv = args.raw_csv, granularity = c.body and c.body.granularity })
  if c.days and c.days.empty then
    writer:finish()
    return
  end
  local client = connection.client(args, creds, s.term)
  -- a job read again: with the command's own --job (and the client id of the path)
  local again = flow.options.job and (NAME .. " " .. c.name .. (c.params.clientId and (" " .. c.params.clientId) or ""))
  local started = run.start(s, client, c, again)
  local days = c.days
  if flow.pager then
    run.each_page(s, started, function(page) writer:write(page) end, c.name)
    s.term:done()
    if started.truncated then
      s.term:warn(string.format("the API returns at most %s rows for a %s; the output stops there",
                                text.thousands(limits.SEARCH_CAP), c.name))
    end
  else
    s.term:done()
    local rows = rows_of(started, rows_field)
    if keep then
      local kept = {}
      for _, row in ipairs(rows) do
        if keep(row) then kept[#kept + 1] = row end
      end
      rows = kept
    end
    if seen then days = seen(rows, meta) or days end
    writer:write(rows)
  end
  failure.check()
  writer:finish()
  output.days_note(s.term, days, fmt)
  if week then s.term:note(WEEK_NOTE) end
  local left_out = writer.outside and writer.outside:note()
  if left_out then s.term:warn(left_out) end
  return client
end

---------------------------------------------------------------------------------------------------
-- from the history store

-- the dimensions of the store a groupBy value stands for (nil: one the store does not keep)
local STORE_DIMS = { OauthClientId = "client", OauthClientName = "client", TemplateUri = "endpoint",
                     HttpMethod = "endpoint" }
-- the body filters the store applies, by their flag
local STORE_FILTERS = { oauth_client_id = "oauthClientIds", template_uri = "templateUris", http_method = "httpMethods" }
local NOT_IN_STORE = { platform = "--platform", user_id = "--user-id", organization_id = "--organization-id" }
-- the API's sort fields of the counts, by the store's names
local SORT_FIELDS = { requestCount = "requests", requests = "requests", status200 = "status200",
                      status300 = "status300", status400 = "status400", status429 = "status429",
                      status500 = "status500" }

-- the first day of the bucket of `date` ("YYYY-MM-DD"): the day, its week's Monday, its month's 1st
local function bucket(date, granularity)
  if granularity == "Week" then
    local d = interval.parse_date(date)
    return interval.date(d - (d + 3) % 7) -- (day 0, 1 January 1970, was a Thursday)
  elseif granularity == "Month" then
    return date:sub(1, 8) .. "01"
  end
  return date
end

-- the org of the store to read: --org, else the store's only org
local function store_org(args, st)
  local orgs, err = st:orgs()
  if not orgs then store_opt.fail(err, args.command) end
  local labels = {}
  for i, o in ipairs(orgs) do labels[i] = o.org end
  if args.org then
    for _, l in ipairs(labels) do
      if l == args.org then return l end
    end
    failure.usage("--org " .. args.org .. ": no such org in the store " .. st.where .. " (orgs: " ..
                  (labels[1] and table.concat(labels, ", ") or "none") .. ")", args.command)
  end
  if #labels == 1 then return labels[1] end
  if #labels == 0 then
    failure.usage("the store " .. st.where .. " holds no org yet: " .. NAME .. " sync --store fills it", args.command)
  end
  failure.usage("the store " .. st.where .. " holds several orgs (" .. table.concat(labels, ", ") ..
                "): give --org LABEL", args.command)
end

-- store_body(args, flow) -> the body the flags ask for (as the job's), the store's grouping
local function store_body(args, flow)
  if flow.options.job and args[(flow.options.job.flag:gsub("%-", "_"))] then
    failure.usage("--job reads a job of the service: leave out --store", args.command)
  end
  for k, flag in pairs(NOT_IN_STORE) do
    if args[k] ~= nil then
      failure.usage(flag .. ": the history store keeps no " .. flag:sub(3) .. ": leave out --store", args.command)
    end
  end
  local body = { groupBy = args.group_by, granularity = args.granularity or "Day", metrics = args.metric,
                 sortBy = args.sort_by }
  local client, endpoint = false, false
  for _, g in ipairs(body.groupBy or {}) do
    local dim = STORE_DIMS[g]
    if not dim then
      failure.usage("--group-by " .. g .. ": the history store keeps the OAuth client, the endpoint " ..
                    "(TemplateUri) and the HTTP method, not " .. g .. ": leave out --store", args.command)
    end
    if dim == "client" then client = true else endpoint = true end
  end
  local filters = {}
  for flag, field in pairs(STORE_FILTERS) do
    if args[flag] ~= nil then filters[field] = args[flag] end
  end
  local by = (client and endpoint) and "client_endpoint" or client and "client" or endpoint and "endpoint" or "org"
  return body, filters, by
end

-- the rows of the span: the store's daily rows summed by bucket and the asked dimensions, API-shaped
local function store_rows(args, src, days, org, body, filters, by)
  local want = {}
  for _, g in ipairs(body.groupBy or {}) do want[g] = true end
  local with_client = want.OauthClientId or want.OauthClientName
  local rows, index = {}, {}
  local inexact = false
  local info, err = src:each_row({ days = days, org = org, by = by, filters = next(filters) and filters or nil },
    function(r)
      local date = bucket(r.date, body.granularity)
      local key = table.concat({ date, with_client and (r.client_id or "") or "",
                                 want.TemplateUri and (r.template_uri or "") or "",
                                 want.HttpMethod and (r.http_method or "") or "" }, "\0")
      local row = index[key]
      if not row then
        row = { date = date, requestCount = 0, status200 = 0, status300 = 0, status400 = 0, status429 = 0,
                status500 = 0 }
        if with_client then row.oauthClient = { id = r.client_id, name = r.client_name } end
        if want.TemplateUri then row.templateUri = r.template_uri end
        if want.HttpMethod then row.httpMethod = r.http_method end
        index[key] = row
        rows[#rows + 1] = row
      end
      for _, c in ipairs(rows_mod.COUNTS) do
        local field = c == "requests" and "requestCount" or c
        local sum = rows_mod.sum(row[field], r[c] or 0)
        if sum == nil then inexact = true else row[field] = sum end
      end
    end)
  if not info then store_opt.fail(err, args.command) end
  if inexact then
    failure.runtime("error: a sum passes " .. rows_mod.MAX_EXACT_TEXT .. ", the largest count this interpreter " ..
                    "adds exactly: no figure is printed rather than a wrong one")
  end
  local sort = body.sortBy and body.sortBy[1]
  local field, desc = "requestCount", true
  if sort and SORT_FIELDS[sort.fieldName or ""] then
    field = sort.fieldName == "requests" and "requestCount" or sort.fieldName
    desc = sort.order ~= "Asc"
  end
  table.sort(rows, function(a, b)
    if a.date ~= b.date and not sort then return a.date < b.date end -- (a sort field given: it comes first)
    if a[field] ~= b[field] then
      if desc then return a[field] > b[field] end
      return a[field] < b[field]
    end
    if a.date ~= b.date then return a.date < b.date end
    local ka = (a.oauthClient and a.oauthClient.id or "") .. "\0" .. (a.templateUri or "") .. "\0" .. (a.httpMethod or "")
    local kb = (b.oauthClient and b.oauthClient.id or "") .. "\0" .. (b.templateUri or "") .. "\0" .. (b.httpMethod or "")
    return ka < kb
  end)
  return rows, info
end

-- what the store lacks of the span, or nil
local function lacking(info, org)
  local c = info.coverage and info.coverage[1]
  if not c or not c.missing or #c.missing == 0 then return nil end
  return string.format("the store lacks %d of the %d days of org %s: %s (not counted)", #c.missing, c.days or 0, org,
                       history.dates_label(c.missing)), c.missing
end

-- run_store(args, session, flow): the listing from the history store
local function run_store(args, s, flow)
  local body, filters, by = store_body(args, flow)
  local days, note = days_mod.read(args, s.now)
  if not days then
    failure.usage("missing the days: give --last 7d, --from DAY [--to DAY], --yesterday, --this-month, " ..
                  "--last-month, --month YYYY-MM or --interval START/END", args.command)
  end
  local fmt = output.format(args, output.ROW_FORMATS)
  local st = store_opt.open(args, args.command, { readonly = true, term = s.term })
  local org = store_org(args, st)
  if args.dry_run then
    io.stdout:write(string.format("# %s: no request is sent: the rows of org %s are read from the store %s\n" ..
                                  "# days: %s\n", args.command, org, st.where, days_mod.describe(days)))
    st:close()
    return
  end
  if note then s.term:note(note) end
  local rows, info = {}, { coverage = {} }
  if not days.empty then
    rows, info = store_rows(args, history.from_store(st), days, org, body, filters, by)
  end
  local missing_text, missing = lacking(info, org)
  local row_model = call_mod.row_model(flow)
  local header = args.command .. ": " .. days_mod.describe(days) .. ", from the store " .. st.where .. " (org " ..
                 org .. ")" .. (missing_text and ("; " .. missing_text) or "")
  local meta = { command = args.command, days = days, header = header,
                 store = { where = st.where, org = org, missing = missing or {} },
                 week_start = body.granularity == "Week" or nil }
  local out = output.open(args)
  local writer = formats.writer(fmt, out.fh, { columns = columns.select(row_model, flow.body, body), row_model = row_model,
                                               meta = meta, bom = args.bom, raw_csv = args.raw_csv,
                                               granularity = body.granularity })
  writer:write(rows)
  failure.check()
  writer:finish()
  st:close()
  output.days_note(s.term, days, fmt)
  if missing_text then s.term:warn(missing_text) end
  if body.granularity == "Week" then s.term:note(WEEK_NOTE) end
  output.commit(out, s.term)
end

-- run(args, session, flow [, adjust]): the listing command args.command over this flow
function M.run(args, s, flow, adjust)
  if args.store ~= nil then return run_store(args, s, flow) end
  local params = call_mod.params(args, flow)
  local creds = connection.credentials(args, s.term)
  local c = call_mod.request(args, flow, s.now, params)
  local fmt = output.format(args, output.ROW_FORMATS)
  local keep, seen
  if adjust then keep, seen = adjust(c, s.now) end
  if args.dry_run then
    io.stdout:write(dryrun.text(c.name, creds, { c }))
    return
  end
  if c.days_note then s.term:note(c.days_note) end
  connection.note(creds, s.term)
  local out = output.open(args)
  local client = write(s, args, c, creds, fmt, out, keep, seen)
  output.commit(out, s.term, c.window_note)
  if client then client:close() end
end

-- command(spec) -> the module of a listing command (see the top of this file)
function M.command(spec)
  local flow = spec.flow
  local cmd_mod = { name = spec.name }
  function cmd_mod.add_to(parser)
    local cmd = help.command(parser, { name = spec.name, flow = flow, about = spec.about, examples = spec.examples })
    call_mod.add_target(cmd, flow)
    days_mod.add(cmd)
    call_mod.add_query(cmd, flow, spec.aliases and { aliases = spec.aliases } or nil)
    output.add(cmd, output.ROW_FORMATS)
    if spec.store then store_opt.add(cmd, { org = true }) end
    connection.add(cmd)
    term_mod.add(cmd)
    return cmd
  end
  function cmd_mod.run(args, session)
    M.run(args, session, flow)
  end
  return cmd_mod
end

return M
