# spec/support/outputs.py: real parsers' verdict on what genesys-usage wrote (used by the cli_hostile_*
# specs). python3 outputs.py MODE FILE... prints one JSON line a file: {"ok": <what was parsed>} or
# {"fail": "why"}.
#   json, ndjson  strict UTF-8, RFC 8259 (NaN and Infinity refused); the value(s)
#   csv           strict UTF-8 (a leading BOM allowed), Python's csv reader in strict mode; the rows
#   terminal      strict UTF-8 and no character that controls, hides or reorders text: Unicode categories
#                 Cc (but LF), Cf, Zl, Zp, Cs and the noncharacters; the text
#   svg           as terminal (tab, LF allowed), parsed by xml.dom.minidom, and every coordinate or size
#                 (x, y, x1, y1, x2, y2, cx, cy, r, width, height, points, CSS px) a finite number
#   html          as svg, but parsed by html.parser (no XML parse: HTML is not XML), and the inline SVG's
#                 and the bars' numbers finite
import sys, json, csv, io, re, math, unicodedata
import xml.dom.minidom
from html.parser import HTMLParser

class Verdict(Exception):
    def __init__(self, **kw):
        Exception.__init__(self)
        self.value = kw

def done(**kw):
    raise Verdict(**kw)

def unsafe(ch, keep):
    if ch in keep:
        return False
    o = ord(ch)
    if (o & 0xFFFE) == 0xFFFE or 0xFDD0 <= o <= 0xFDEF:
        return True
    return unicodedata.category(ch) in ('Cc', 'Cf', 'Zl', 'Zp', 'Cs')

def check_chars(text, keep):
    bad = [c for c in text if unsafe(c, keep)]
    if bad:
        done(fail="characters that control, hide or reorder text: " +
             ", ".join("U+%04X" % ord(c) for c in bad[:12]))

def no_constant(c):
    raise ValueError("not a JSON number: " + c)

NUMBER_ATTRS = re.compile(r'\s(x|y|x1|y1|x2|y2|cx|cy|r|width|height)="([^"]*)"')
POINTS = re.compile(r'\spoints="([^"]*)"')
PX = re.compile(r'(?:width|height):\s*([^;"]*?)px')

def check_numbers(text):
    seen = 0
    def finite(v, where):
        try:
            f = float(v)
        except ValueError:
            done(fail="%s is not a number: %r" % (where, v))
        if not math.isfinite(f):
            done(fail="%s is not finite: %r" % (where, v))
    for name, v in NUMBER_ATTRS.findall(text):
        finite(v, name)
        seen += 1
    for pts in POINTS.findall(text):
        for v in re.split(r'[ ,]+', pts.strip()):
            if v:
                finite(v, "points")
                seen += 1
    for v in PX.findall(text):
        finite(v, "px")
        seen += 1
    return seen

def verdict(mode, path):
    data = open(path, 'rb').read()
    try:
        text = data.decode('utf-8')  # strict: no ill-formed sequence, no surrogate
    except UnicodeDecodeError as e:
        done(fail="not UTF-8: %s" % e)
    try:
        if mode == 'json':
            done(ok=json.loads(text, parse_constant=no_constant))
        if mode == 'ndjson':
            if text and not text.endswith('\n'):
                done(fail="no final newline")
            done(ok=[json.loads(l, parse_constant=no_constant) for l in text.split('\n') if l != ''])
        if mode == 'csv':
            if text.startswith('\ufeff'):
                text = text[1:]
            if '\x00' in text:
                done(fail="a NUL byte")
            done(ok=list(csv.reader(io.StringIO(text, newline=''), strict=True)))
        if mode == 'terminal':
            check_chars(text, '\n')
            done(ok=text)
        if mode == 'svg':
            check_chars(text, '\n\t')
            xml.dom.minidom.parseString(data)
            done(ok=check_numbers(text))
        if mode == 'html':
            check_chars(text, '\n\t')
            HTMLParser().feed(text)
            done(ok=check_numbers(text))
    except Verdict:
        raise
    except Exception as e:  # a parser's refusal is the verdict
        done(fail="%s: %s" % (type(e).__name__, e))
    done(fail="unknown mode " + mode)

def main():
    mode = sys.argv[1]
    for path in sys.argv[2:]:
        try:
            verdict(mode, path)
        except Verdict as v:
            print(json.dumps(v.value))

main()
