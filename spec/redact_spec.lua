-- usage.base.redact: every form a secret travels or is echoed in, replaced wherever it appears (text,
-- keys, nested tables, across a cut), copies instead of changes, marks on decoded answers, short secrets
-- only as whole values, the last few tokens.

local redact_mod = require "usage.base.redact"
local core = require "usage.core"

local SECRET = "s3cr3t/Value+ü"

describe("usage.base.redact", function()
  describe("the forms of a secret", function()
    it("as written, percent-encoded with upper- and lower-case hex", function()
      local f = redact_mod.forms(SECRET)
      assert.equal(SECRET, f[1])
      assert.truthy(f[2]:find("%2F", 1, true))
      assert.truthy(f[3]:find("%2f", 1, true))
      assert.equal(3, #f)
      assert.same({ "plainsecret" }, redact_mod.forms("plainsecret")) -- nothing to encode: one form
    end)

    it("a URL's userinfo: percent-decoded as libcurl sends it, user:password raw and decoded, base64 of both", function()
      local f = redact_mod.userinfo_forms("us%65r", "p%40ssw0rd-x")
      local set = {}
      for _, s in ipairs(f) do set[s] = true end
      assert.truthy(set["p%40ssw0rd-x"])
      assert.truthy(set["p@ssw0rd-x"])
      assert.truthy(set["us%65r:p%40ssw0rd-x"])
      assert.truthy(set["user:p@ssw0rd-x"])
      assert.truthy(set[core.base64("user:p@ssw0rd-x")])
      assert.truthy(set[core.base64("us%65r:p%40ssw0rd-x")])
    end)

    it("every form is replaced in text, the longest first, never a part of it left", function()
      local r = redact_mod.new()
      r:add(SECRET)
      for _, form in ipairs(redact_mod.forms(SECRET)) do
        assert.equal("a [REDACTED] b", r:text("a " .. form .. " b"), form)
      end
      assert.equal("[REDACTED][REDACTED]", r:text(SECRET .. SECRET))
      assert.equal("no secret here", r:text("no secret here"))
      assert.equal(5, r:text(5))
    end)

    it("a token: its forms too; the last four stay secrets, older ones are forgotten", function()
      local r = redact_mod.new()
      local tokens = {}
      for i = 1, 6 do
        tokens[i] = "tok-" .. i .. string.rep("Z", 20)
        r:token(tokens[i])
      end
      for i = 3, 6 do assert.equal("[REDACTED]", r:text(tokens[i]), i) end
      assert.equal(tokens[1], r:text(tokens[1]))
      assert.equal(tokens[2], r:text(tokens[2]))
      r:token(tokens[6]) -- the one in use again: no change
      assert.equal("[REDACTED]", r:text(tokens[3]))
    end)
  end)

  describe("copies", function()
    it("copy: every string in a value, keys too, nested; the same value when nothing changes", function()
      local r = redact_mod.new()
      r:add(SECRET)
      local mt = { __name = "kept" }
      local v = setmetatable({ a = "x" .. SECRET, [SECRET] = 1, nested = { { deep = SECRET } }, clean = { "ok" } }, mt)
      local c = r:copy(v)
      assert.are_not.equal(v, c)
      assert.equal("x[REDACTED]", c.a)
      assert.equal(1, c["[REDACTED]"])
      assert.is_nil(c[SECRET])
      assert.equal("[REDACTED]", c.nested[1].deep)
      assert.equal(v.clean, c.clean)           -- an unchanged branch is shared
      assert.equal(mt, getmetatable(c))
      assert.equal("x" .. SECRET, v.a)          -- the value itself never changes
      local clean = { a = "fine", b = { "also" } }
      assert.equal(clean, r:copy(clean))
    end)

    it("mark and out: a decoded answer is copied only when its raw text may hold a secret", function()
      local r = redact_mod.new()
      r:add(SECRET)
      local plain = r:mark({ name = "x" }, '{"name":"x"}')
      assert.equal(plain, r:out(plain))
      local held = r:mark({ name = SECRET }, '{"name":"' .. SECRET .. '"}')
      assert.equal("[REDACTED]", r:out(held).name)
      assert.equal(SECRET, held.name)
      -- escapes in the raw text: the decoded strings may spell a secret the raw text hides
      local escaped = r:mark({ name = SECRET }, '{"name":"s3cr3t\\/Value+\\u00fc"}')
      assert.equal("[REDACTED]", r:out(escaped).name)
      -- a part of a marked answer (a page's rows) is marked too
      local rows = { { n = SECRET } }
      r:mark_part(rows, held)
      assert.equal("[REDACTED]", r:out(rows)[1].n)
      -- with no secret, nothing is marked at all
      local none = redact_mod.new()
      local t = none:mark({ a = 1 }, '{"a":1}')
      assert.equal(t, none:out(t))
    end)

    it("unescape_json: a secret spelled with \\u escapes in a broken body is seen", function()
      local r = redact_mod.new()
      r:add("abcdefgh-secret")
      local body = '{"message": "\\u0061bcdefgh-secret" ...'
      assert.truthy(r:text(redact_mod.unescape_json(body)):find("[REDACTED]", 1, true))
      assert.equal("a/b\n\"", redact_mod.unescape_json('a\\/b\\n\\"'))
      assert.equal("plain", redact_mod.unescape_json("plain"))
    end)
  end)

  describe("short secrets", function()
    it("a secret under MIN_SECRET bytes: only a value that is that secret as a whole, never a key or a part", function()
      local r = redact_mod.new()
      r:add("abc")
      assert.is_true(#"abc" < redact_mod.MIN_SECRET)
      assert.equal("[REDACTED]", r:text("abc"))
      assert.equal("xabcx", r:text("xabcx"))
      assert.equal("abc", r:text("abc", true)) -- a key
      local c = r:copy({ abc = "abc", other = "abcd" })
      assert.equal("[REDACTED]", c.abc)
      assert.equal("abcd", c.other)
    end)
  end)

  it("holds: a plain search per group of forms finds any form", function()
    local r = redact_mod.new()
    r:add(SECRET)
    r:add("another-secret-1")
    r:add("a-long-prefix/then+escapes")   -- forms sharing 13 bytes: one probe for the three
    assert.equal(3 + 1 + 1, #r.probes) -- (SECRET's forms share "s3cr3t", under MIN_SECRET: one probe each)
    assert.is_true(r:holds("a-long-prefix%2Fthen%2bescapes"))
    for _, form in ipairs(redact_mod.forms(SECRET)) do assert.is_true(r:holds("..." .. form .. "...")) end
    assert.is_true(r:holds("another-secret-1"))
    assert.is_false(r:holds("nothing"))
  end)
end)
