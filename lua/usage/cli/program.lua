-- usage.cli.program: the program's name, defined here and nowhere else. Every line the command line
-- writes on stderr starts with it, every usage line and --help hint names it, and so does the command
-- that reads a job again. Pure Lua with no requires: bin/genesys-usage reads it before the C core loads.
return {
  NAME = "genesys-usage",
}
