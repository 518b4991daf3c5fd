-- usage.cli.help: how the program and each of its commands present themselves in --help (argparse lays
-- out the flags): the top-level parser, and for a command its usage line, what it calls, its examples,
-- the environment, the days and the exit statuses. An example longer than a help line is continued with
-- " \" on the next line (indented), never wrapped inside the command line.
--   local parser = help.program()        -- the top-level argparse parser (--version, -h)
--   local cmd = help.command(parser, { name =, about =, summary =, more =, examples =, flow = })
--   help.version()                       -- "genesys-usage 0.2.0 (Lua 5.4)"

local argparse = require "argparse"
local client = require "usage.client"
local params = require "usage.api.params"
local profiles = require "usage.profiles"
local call = require "usage.cli.call"
local NAME = require("usage.cli.program").NAME

local M = {}

local concat = table.concat

local WIDTH, MARGIN = 100, 32 -- the width of the help text, and the column of the flags' descriptions

local V = profiles.VARS

local ENVIRONMENT = concat({
  "Credentials and settings (environment):",
  "  " .. V.client_id .. ", " .. V.client_secret,
  "                              OAuth client credentials (client credentials grant)",
  "  " .. V.access_token .. "   a bearer token instead (wins when set)",
  "  " .. V.region .. "         region (eu-west-1) or environment (mypurecloud.ie)",
  "  " .. profiles.BASE_URL_VAR .. "      API base URL (like --base-url)",
  "  ~/.gc/config.toml           profiles of the gc CLI: the variables above override its default",
  "                              profile; an explicit --profile NAME wins over them (unlike gc)",
  "  GENESYS_USAGE_PROGRESS      1: always draw the progress line on stderr, 0: never",
  "Exit status: 0 ok, 2 usage error, 75 a passing failure, try again later (network, timeouts,",
  "429 or 5xx after the retries), 77 credentials or permission refused (401, 403, a refused login),",
  "1 any other failure, 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP (no partial output file is",
  "left). Nothing is written to stderr on success unless it is a terminal or --verbose is given; a",
  "failed run names the jobs it started.",
}, "\n")

function M.version()
  local engine = (type(jit) == "table" and jit.version) or _VERSION
  return string.format("%s %s (%s)", NAME, client.VERSION, engine)
end

-- the description of a command: what it is, which operations it calls, the permissions, the rows
local function description(spec)
  local out = { spec.about }
  local flow = spec.flow
  if flow then
    local s, r = flow.submit_op, flow.read_op
    out[#out + 1] = string.format("Calls %s %s, then %s %s (%s, %s); needs one of the permissions %s. Rows: %s.",
      s.method, s.path, r.method, r.path, s.name, r.name, concat(s.permissions, ", "), (call.row_model(flow)))
  end
  if spec.more then out[#out + 1] = spec.more end
  return concat(out, "\n\n")
end

-- example_lines(line) -> the lines of one example: at most WIDTH columns each, cut between words, each
-- but the last ending with " \" (a shell continuation: the lines paste back into one command)
local function example_lines(line)
  if #line <= WIDTH then return { line } end
  local out, current = {}, nil
  local indent = "      "
  for word in line:gmatch("%S+") do
    if not current then
      current = "  " .. word
    elseif #current + 1 + #word + 2 <= WIDTH then
      current = current .. " " .. word
    else
      out[#out + 1] = current .. " \\"
      current = indent .. word
    end
  end
  out[#out + 1] = current
  return out
end

local function epilog(spec)
  local out = { "Examples:" }
  for _, e in ipairs(spec.examples or {}) do
    for _, l in ipairs(example_lines("  " .. NAME .. " " .. spec.name .. " " .. e)) do out[#out + 1] = l end
  end
  out[#out + 1] = ""
  out[#out + 1] = ENVIRONMENT
  return concat(out, "\n")
end

-- program() -> the top-level argparse parser: the usage lines, the summary, the days and formats, the
-- environment; --version and -h/--help (usage.cli answers both before parsing: they are here to be listed)
function M.program()
  local top = argparse(NAME):add_help(false):help_max_width(WIDTH):help_description_margin(MARGIN)
  top:command_target("command")
  top:usage("usage: " .. NAME .. " <command> [options]\n       " .. NAME .. " <command> --help\n       " .. NAME ..
            " --version")
  top:description(NAME .. ": who spends the Genesys Cloud API quota (Usage API).")
  top:epilog(concat({
    "Every command covers whole UTC days: --last 7d (the 7 complete days before today),",
    "--from DAY --to DAY (both included), --yesterday, --this-month, --last-month, --month YYYY-MM.",
    "Formats: --format table|csv|json|ndjson, or from the --output file's extension.",
    "`" .. NAME .. " <command> --help` tells more.",
    "",
    ENVIRONMENT,
    "",
    "Example: " .. NAME .. " report --last 30d --rank-by 429 --output report.html",
  }, "\n"))
  top:flag("--version", "print the version")
  top:flag("-h --help", "show this help")
  return top
end

-- command(parser, spec) -> the argparse command of a command module, laid out as every other: spec = { name,
-- about (its description), summary (its line in the list of commands; default about), more (a paragraph
-- after the operations), examples (argument lists), flow (the library flow it runs, if one: its operations,
-- permissions and rows are said, and its first path parameter may be the first argument) }
function M.command(parser, spec)
  local cmd = parser:command(spec.name):add_help(false):help_max_width(WIDTH):help_description_margin(MARGIN)
  cmd:summary(spec.summary or spec.about):description(description(spec)):epilog(epilog(spec))
  local first = spec.flow and spec.flow.params[1] -- (usage.cli.call.add_target adds it as the first argument)
  local argument = first and (" [" .. params.entries[first].flag:upper() .. "]") or ""
  cmd:usage("usage: " .. NAME .. " " .. spec.name .. argument .. " [options]")
  return cmd
end

return M
