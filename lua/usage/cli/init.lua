-- usage.cli: the genesys-usage command line.
--   genesys-usage <command> [options]      (bin/genesys-usage calls require("usage.cli").main(arg))
-- main(argv) returns the exit status: 0 ok, 2 usage error, 75 a passing failure (network, timeouts, 429
-- and 5xx after the retries), 77 credentials or permissions, 1 anything else, 128 + n when a trapped
-- signal (SIGINT, SIGTERM, SIGHUP) stopped it (usage.cli.failure), or a monitoring plugin's state
-- (forecast --format plugin: 0-3, any failure an UNKNOWN 3 line on stdout: usage.cli.monitor); it never
-- raises and never prints a traceback (unless GENESYS_USAGE_DEBUG=1). On success it writes nothing on
-- stderr unless stderr is a terminal or --verbose is given (cron mails what a job prints); a run that
-- fails names the jobs it started.
-- A run: the parser of every command (usage.cli.parser: each module of usage.cli.commands adds its
-- argparse command), argparse's result, then the command's run(args, session) with the session of the
-- run: { term = its stderr (usage.cli.term), now = its clock (the time it started), jobs = the jobs it
-- started ({ id, again }: named on the error line of a run that fails) }. docs/architecture.md has the map.

local usage = require "usage"
local core = require "usage.core"
local commands = require "usage.cli.commands"
local parser_mod = require "usage.cli.parser"
local help = require "usage.cli.help"
local term_mod = require "usage.cli.term"
local sink = require "usage.cli.sink"
local failure = require "usage.cli.failure"
local monitor = require "usage.cli.monitor"
local NAME = require("usage.cli.program").NAME

local M = {}

local function main(argv, state)
  usage.trap_signals() -- from here on a signal ends waits and transfers; the command cleans up
  core.signal_deadline(5) -- and whatever it is doing, it is gone 5 s after the signal
  state.term = term_mod.new { progress = false }
  local parser = parser_mod.new(commands)
  local first = argv[1]
  if first == nil then
    state.term:block(parser:help())
    return 2
  end
  if first == "help" then
    if argv[2] and not parser:command(argv[2]) then failure.usage("unknown command " .. tostring(argv[2])) end
    io.stdout:write(parser:help(argv[2]))
    return 0
  end
  for i = 1, #argv do
    if argv[i] == "--" then break end
    if argv[i] == "-h" or argv[i] == "--help" then
      io.stdout:write(parser:help(parser:command(first) and first or nil))
      return 0
    end
  end
  if first == "--version" or first == "version" then
    io.stdout:write(help.version(), "\n")
    return 0
  end
  local ok, args, command = parser:parse(argv)
  if not ok then failure.usage(args, command) end
  local session = { term = term_mod.new { quiet = args.quiet, verbose = args.verbose, now = core.now },
                    now = core.time(), jobs = {} }
  state.term, state.jobs = session.term, session.jobs
  -- (a command returns nothing, or the exit status of an answer that is not a failure: a plugin's state)
  local status = parser:command(args.command).run(args, session)
  return type(status) == "number" and status or 0
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
  math.randomseed(math.floor(core.now() * 1000) % 2147483647)
  local state = {}
  local ok, result = xpcall(function() return main(argv or {}, state) end, function(e) -- (5.1: no arguments)
    if failure.is(e) then return e end
    return { message = tostring(e), trace = debug.traceback("", 2) }
  end)
  pcall(io.stdout.flush, io.stdout)
  if ok then return result or 0 end
  sink.abort_all()
  local term = state.term or term_mod.new { progress = false }
  term:done()
  -- the jobs a failed or interrupted run started, with the command that reads one again: on the error's
  -- one line
  local jobs = jobs_text(state.jobs or {})
  if monitor.requested(argv) then -- (a monitoring plugin: any failure is one UNKNOWN line on stdout, exit 3)
    local message = failure.is(result) and failure.line(result) or (NAME .. ": internal error: " .. result.message)
    return monitor.unknown(term:clean(message .. jobs))
  end
  if failure.is(result) then
    term:line(failure.line(result) .. jobs)
    return result.status
  end
  term:line(NAME .. ": internal error: " .. result.message .. jobs)
  if os.getenv("GENESYS_USAGE_DEBUG") == "1" then term:block(tostring(result.trace) .. "\n") end
  return 1
end

return M
