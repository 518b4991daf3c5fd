-- usage.cli.monitor: a run in the monitoring-plugin convention (Nagios, Icinga, Zabbix, Sensu), which
-- `genesys-usage forecast --format plugin` follows. A plugin answers on standard output, and its exit
-- status is its state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. So in that mode every failure (a usage error,
-- the network, a refused login, a signal, an internal error) is not the command line's usual one line on
-- stderr and 2 / 75 / 77 / 1 / 128 + n: it is one UNKNOWN status line on stdout and exit status 3 (Icinga
-- reads stderr too: nothing is written there).
--   if monitor.requested(argv) then ... end     -- the frame (usage.cli) asks before it reports a failure
--   local status = monitor.unknown(message)     -- writes "GENESYS USAGE UNKNOWN - message", returns 3
-- The mode is read from the words of the command line, because a usage error may come before (or instead
-- of) argparse's result: `forecast` and `--format plugin` (also `--format=plugin`, `-f plugin`, `-fplugin`)
-- before any `--`.

local forecast = require "usage.forecast"

local M = {}

-- the commands that can answer as a plugin
local PLUGIN_COMMANDS = { forecast = true }

-- requested(argv) -> whether this run answers as a monitoring plugin
function M.requested(argv)
  if type(argv) ~= "table" or not PLUGIN_COMMANDS[argv[1]] then return false end
  for i = 2, #argv do
    local a = argv[i]
    if a == "--" then return false end
    if (a == "--format" or a == "-f") and argv[i + 1] == "plugin" then return true end
    if a == "--format=plugin" or a == "-fplugin" then return true end
  end
  return false
end

-- unknown(message) -> 3, after writing the UNKNOWN status line (one line, cleaned of what would break it)
function M.unknown(message)
  local text, status = forecast.plugin_unknown(message)
  io.stdout:write(text)
  pcall(io.stdout.flush, io.stdout)
  return status
end

return M
