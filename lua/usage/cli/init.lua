-- usage.cli: the genesys-usage command line.
--   genesys-usage <command> [options]      (bin/genesys-usage calls require("usage.cli").main(arg))
-- main(argv) returns the exit status: 0 ok, 2 usage error, 75 a passing failure (network, timeouts, 429
-- and 5xx after the retries), 77 credentials or permissions, 1 anything else, 128 + n when a trapped
-- signal (SIGINT, SIGTERM, SIGHUP) stopped it (usage.cli.failure); it never raises and never prints a
-- traceback (unless GENESYS_USAGE_DEBUG=1). On success it writes nothing on stderr unless stderr is a
-- terminal or --verbose is given (cron mails what a job prints); a run that fails names the jobs it
-- started on its one line of error.
-- The package: commands (the list) and commands/* (one module a command, each with run(ctx)), parser
-- (argparse), flags (derived from the models), help, days (whole UTC days), credentials (+ toml: the gc
-- CLI's profiles), term (stderr), sink (output files), formats and columns (rows), dryrun, run (flows),
-- failure (exit statuses), text. A run: parse -> prepare the context -> dry run, or open the output, run
-- the command, commit the output.

local M = {}

local PROG = "genesys-usage"

-- the formats an --output file's extension stands for
local EXTENSIONS = { csv = "csv", json = "json", ndjson = "ndjson", html = "html", svg = "svg" }

local function contains(list, v)
  for _, x in ipairs(list) do
    if x == v then return true end
  end
  return false
end

local function resolve_format(ctx, failure)
  local fmts, o, name = ctx.cmd.formats, ctx.options, ctx.cmd.name
  if not fmts then return end
  local ext = o.output and o.output:match("%.(%w+)$")
  local by_ext = ext and EXTENSIONS[ext:lower()]
  if by_ext and not contains(fmts, by_ext) then
    failure.usage(string.format("--output %s: %s is not an output of %s (%s)", o.output, by_ext, name,
                                table.concat(fmts, ", ")), name)
  end
  if o.format and by_ext and o.format ~= by_ext then
    failure.usage(string.format("--format %s does not match --output %s (%s)", o.format, o.output, by_ext), name)
  end
  ctx.format = o.format or by_ext or "table"
  if o.bom and ctx.format ~= "csv" then failure.usage("--bom is for CSV output, not " .. ctx.format, name) end
  if o["raw-csv"] and ctx.format ~= "csv" then failure.usage("--raw-csv is for CSV output, not " .. ctx.format, name) end
end

-- prepare(parsed, state) -> ctx: the flags sorted into body, path parameters, flow options, days and
-- settings; credentials resolved; the days and the format decided. Every usage error is raised here,
-- before anything is sent.
local function prepare(parsed, state)
  local core = require "usage.core"
  local failure = require "usage.cli.failure"
  local flags = require "usage.cli.flags"
  local days_mod = require "usage.cli.days"
  local credentials = require "usage.cli.credentials"
  local cmd = parsed.command
  local fl = flags.for_command(cmd)
  local ctx = { cmd = cmd, flags = fl, now = core.time(), body = {}, params = {}, opts = {}, options = {},
                day_flags = {} }
  local into = { body = ctx.body, param = ctx.params, query = ctx.opts, flow = ctx.opts, days = ctx.day_flags }
  for _, flag in ipairs(fl.list) do
    local v = parsed.values[flag.name]
    if v ~= nil then
      local t = into[flag.kind]
      if t then t[flag.target or flag.name] = v else ctx.options[flag.name] = v end
    end
  end
  ctx.term = require("usage.cli.term").new { quiet = ctx.options.quiet, verbose = ctx.options.verbose, now = core.now }
  state.term, state.ctx = ctx.term, ctx
  local function usage(message) failure.usage(message, cmd.name) end

  for _, p in ipairs(fl.flow and fl.flow.params or {}) do
    local name = flags.kebab(p)
    local arg = parsed.args[name]
    if arg then
      local ok, why = flags.id(name)(arg)
      if not ok then usage(why) end
      if ctx.params[p] and ctx.params[p] ~= arg then usage("the " .. p .. " is given twice, differently") end
      ctx.params[p] = arg
    end
    if not ctx.params[p] then usage("missing the " .. p .. ": give it as the first argument or --" .. name .. " ID") end
  end

  local creds, why
  if cmd.credentials then -- (a command over several orgs resolves each one's)
    creds, why = cmd.credentials(ctx)
  else
    creds, why = credentials.resolve { profile = ctx.options.profile, region = ctx.options.region,
                                       base_url = ctx.options["base-url"] }
  end
  if not creds then usage(why) end
  for _, s in ipairs(creds.secrets) do ctx.term:secret(s) end
  for _, w in ipairs(creds.warnings or {}) do ctx.term:line(PROG .. ": " .. w) end -- (also with --quiet)
  ctx.creds = creds

  if ctx.opts.job then
    if next(ctx.body) or next(ctx.day_flags) then
      usage("--job reads the job as it was submitted: leave out the days and the query flags")
    end
  else
    local days, note = days_mod.resolve(ctx.day_flags, ctx.now)
    if days == false then usage(note) end
    if not days and fl.days == "required" then
      usage("missing the days: give --last 7d, --from DAY [--to DAY], --yesterday, --this-month, --last-month, " ..
            "--month YYYY-MM or --interval START/END")
    end
    if days and fl.flow and fl.flow.generation == "jobs" then
      local ok, limit = days_mod.check_job_start(days, ctx.now)
      if not ok then usage(limit) end
    elseif days and fl.flow then
      ctx.window_note = days_mod.window_note(days, ctx.now)
    end
    ctx.days, ctx.days_note = days or nil, note
  end
  resolve_format(ctx, failure)
  if cmd.prepare then cmd.prepare(ctx) end
  local header = ctx.days and (cmd.name .. ": " .. days_mod.describe(ctx.days)) or
                 (ctx.opts.job and (cmd.name .. ": job " .. ctx.opts.job .. " (the days it was submitted with)"))
  ctx.meta = { command = cmd.name, days = ctx.days, header = header }
  return ctx
end

local function run_command(ctx)
  local failure = require "usage.cli.failure"
  local sink = require "usage.cli.sink"
  local run = require "usage.cli.run"
  local cmd = ctx.cmd
  if ctx.options["dry-run"] then
    io.stdout:write(cmd.dry_run and cmd.dry_run(ctx) or
                    require("usage.cli.dryrun").text(ctx, (cmd.calls or run.flow_calls)(ctx)))
    return 0
  end
  if ctx.days_note then ctx.term:note(ctx.days_note) end
  if ctx.creds.ignored and #ctx.creds.ignored > 0 then
    ctx.term:note("--profile " .. tostring(ctx.creds.profile or ctx.options.profile) .. " wins over " ..
                  table.concat(ctx.creds.ignored, ", ") .. " (set, not read)")
  end
  local out, err = sink.open(ctx.options.output, failure.runtime)
  if not out then failure.runtime(err) end
  ctx.out = out
  cmd.run(ctx)
  failure.check()
  local ok, cerr = out:commit()
  if not ok then failure.runtime(cerr) end
  if ctx.window_note then ctx.term:warn(ctx.window_note) end -- (what the output may lack: said once it is there)
  if out.path then ctx.term:note("wrote " .. out.path) end
  if ctx.client then ctx.client:close() end
  return 0
end

local function main(argv, state)
  require("usage").trap_signals() -- from here on a signal ends waits and transfers; the command cleans up
  require("usage.core").signal_deadline(5) -- and whatever it is doing, it is gone 5 s after the signal
  local failure = require "usage.cli.failure"
  state.term = require("usage.cli.term").new { progress = false }
  local parser = require("usage.cli.parser").new(require "usage.cli.commands")
  local first = argv[1]
  if first == nil then
    state.term:block(parser:help())
    return 2
  end
  if first == "help" then
    if argv[2] and not parser.by_name[argv[2]] then failure.usage("unknown command " .. tostring(argv[2])) end
    io.stdout:write(parser:help(argv[2]))
    return 0
  end
  for i = 1, #argv do
    if argv[i] == "--" then break end
    if argv[i] == "-h" or argv[i] == "--help" then
      io.stdout:write(parser:help(parser.by_name[first] and first or nil))
      return 0
    end
  end
  if first == "--version" or first == "version" then
    io.stdout:write(require("usage.cli.help").version(), "\n")
    return 0
  end
  local ok, parsed, command = parser:parse(argv)
  if not ok then failure.usage(parsed, command) end
  return run_command(prepare(parsed, state))
end

-- " (job ID: read it again with: genesys-usage aggregates --job ID)", or "" without jobs
local function jobs_text(jobs)
  if #jobs == 0 then return "" end
  local ids = {}
  for i, job in ipairs(jobs) do ids[i] = job.id end
  local again = jobs[1].again
  if #jobs == 1 then
    return " (job " .. ids[1] .. (again and (": read it again with: " .. again) or " was started") .. ")"
  end
  return " (jobs " .. table.concat(ids, ", ") ..
         (again and (": read one again with: " .. again:gsub("%-%-job %S+$", "--job ID")) or " were started") .. ")"
end

-- main(argv) -> exit status
function M.main(argv)
  local loaded, why = pcall(require, "usage.core")
  if not loaded then
    require("usage.cli.term").new({ progress = false }):line(PROG .. ": cannot load the usage library (its C " ..
      "core usage.core is built by `make build`): " .. tostring(why):match("^[^\n]*"))
    return 1
  end
  math.randomseed(math.floor(require("usage.core").now() * 1000) % 2147483647)
  local failure = require "usage.cli.failure"
  local state = {}
  local ok, result = xpcall(function() return main(argv or {}, state) end, function(e) -- (5.1: no arguments)
    if failure.is(e) then return e end
    return { message = tostring(e), trace = debug.traceback("", 2) }
  end)
  pcall(io.stdout.flush, io.stdout)
  if ok then return result or 0 end
  require("usage.cli.sink").abort_all()
  local term = state.term or require("usage.cli.term").new { progress = false }
  term:done()
  -- the jobs a failed or interrupted run started, with the command that reads one again: on the error's
  -- one line
  local jobs = jobs_text(state.ctx and state.ctx.jobs or {})
  if failure.is(result) then
    term:line(failure.line(result) .. jobs)
    return result.status
  end
  term:line(PROG .. ": internal error: " .. result.message .. jobs)
  if os.getenv("GENESYS_USAGE_DEBUG") == "1" then term:block(tostring(result.trace) .. "\n") end
  return 1
end

return M
