-- docs/gen_cli_help.lua: prints the help reference at the end of docs/cli.md (everything after its
-- "## Reference: the help of every command" section's introduction), from the command line itself.
--   lua5.4 docs/gen_cli_help.lua           (spec/docs_spec.lua checks that docs/cli.md ends with it)
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
package.cpath = "build/" .. (jit and "luajit" or "lua5.4") .. "/?.so;" .. package.cpath

local commands = require "usage.cli.commands"
local parser = require("usage.cli.parser").new(commands)

local out = { "", "### genesys-usage --help", "", "```", (parser:help():gsub("\n+$", "")), "```" }
for _, cmd in ipairs(commands) do
  out[#out + 1] = ""
  out[#out + 1] = "### genesys-usage " .. cmd.name .. " --help"
  out[#out + 1] = ""
  out[#out + 1] = "```"
  out[#out + 1] = (parser:help(cmd.name):gsub("\n+$", ""))
  out[#out + 1] = "```"
end
io.write(table.concat(out, "\n"), "\n")
