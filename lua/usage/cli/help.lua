-- usage.cli.help: the words of --help around the flags (which argparse lays out): what a command calls,
-- its examples, the environment, the days and the exit statuses. An example longer than a help line is
-- continued with " \" on the next line (indented), never wrapped inside the command line.

local credentials = require "usage.cli.credentials"
local client = require "usage.client"

local M = {}

local PROG = "genesys-usage"
local concat = table.concat

M.GROUPS = {
  { "target", "Target" },
  { "days", "Days (whole UTC days; today is never complete)" },
  { "body", "Query (fields of the request body %s)" },
  { "query", "Query parameters" },
  { "command", "Report" },
  { "output", "Output" },
  { "connection", "Credentials and connection" },
  { "general", "General" },
}

local V = credentials.VARS

M.ENVIRONMENT = concat({
  "Credentials and settings (environment):",
  "  " .. V.client_id .. ", " .. V.client_secret,
  "                              OAuth client credentials (client credentials grant)",
  "  " .. V.access_token .. "   a bearer token instead (wins when set)",
  "  " .. V.region .. "         region (eu-west-1) or environment (mypurecloud.ie)",
  "  " .. credentials.BASE_URL_VAR .. "      API base URL (like --base-url)",
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
  return string.format("%s %s (%s)", PROG, client.VERSION, engine)
end

-- the description of a command: what it is, which operations it calls, the permissions, the rows
function M.description(cmd, fl)
  local out = { cmd.about }
  local flow = fl.flow
  if flow then
    local s, r = flow.submit_op, flow.read_op
    out[#out + 1] = string.format("Calls %s %s, then %s %s (%s, %s); needs one of the permissions %s. Rows: %s.",
      s.method, s.path, r.method, r.path, s.name, r.name, concat(s.permissions, ", "), fl.row_model)
  end
  if cmd.more then out[#out + 1] = cmd.more end
  return concat(out, "\n\n")
end

M.WIDTH = 100 -- the width of the help text (usage.cli.parser lays it out at this width)

-- example_lines(line) -> the lines of one example: at most M.WIDTH columns each, cut between words, each
-- but the last ending with " \" (a shell continuation: the lines paste back into one command)
function M.example_lines(line)
  if #line <= M.WIDTH then return { line } end
  local out, current = {}, nil
  local indent = "      "
  for word in line:gmatch("%S+") do
    if not current then
      current = "  " .. word
    elseif #current + 1 + #word + 2 <= M.WIDTH then
      current = current .. " " .. word
    else
      out[#out + 1] = current .. " \\"
      current = indent .. word
    end
  end
  out[#out + 1] = current
  return out
end

function M.epilog(cmd)
  local out = { "Examples:" }
  for _, e in ipairs(cmd.examples or {}) do
    for _, l in ipairs(M.example_lines("  " .. PROG .. " " .. cmd.name .. " " .. e)) do out[#out + 1] = l end
  end
  out[#out + 1] = ""
  out[#out + 1] = M.ENVIRONMENT
  return concat(out, "\n")
end

M.SUMMARY = PROG .. ": who spends the Genesys Cloud API quota (Usage API)."

M.TOP_EPILOG = concat({
  "Every command covers whole UTC days: --last 7d (the 7 complete days before today),",
  "--from DAY --to DAY (both included), --yesterday, --this-month, --last-month, --month YYYY-MM.",
  "Formats: --format table|csv|json|ndjson, or from the --output file's extension.",
  "`" .. PROG .. " <command> --help` tells more.",
  "",
  M.ENVIRONMENT,
  "",
  "Example: " .. PROG .. " report --last 30d --rank-by 429 --output report.html",
}, "\n")

return M
