r'''Reading rule files: Horn rules and SPARQL CONSTRUCT rules, one file, one documented format.

The rule file format
====================

A rule file is UTF-8 text. ``#`` starts a comment that runs to the end of the line. A file holds
prefix lines and rules, in any order (a prefix applies to the rules after it)::

    # people born in a city are born in that city's country
    @prefix geo: <http://example.org/geo#> .

    born-in-country: bornIn(X, C), locatedIn(C, Y) -> bornInCountry(X, Y)
    lives-near: livesIn(X, C), geo:near(C, D) -> livesNear(X, D), livesNear(D, X).
    famous: wonAward(X, "Nobel Prize") -> rdf:type(X, <https://kgqa.dev/entity/Laureate>)

    grandparent: CONSTRUCT { ?x rel:grandparentOf ?z }
                 WHERE { ?x rel:parentOf ?y . ?y rel:parentOf ?z }

**Horn rules** are ``conditions -> conclusions``: atoms ``predicate(subject, object)`` separated by
commas, with an optional final ``.``. A rule may run over several lines (it ends after the last
conclusion atom). In an atom:

* the **predicate** is a relation name (``bornIn`` means ``relation_iri("bornIn")``, i.e.
  ``<https://kgqa.dev/relation/bornIn>``, the IRI ``kgqa import`` mints for that name), a prefixed
  name (``rdf:type``, ``geo:near``) or a full IRI in angle brackets;
* a **variable** is an identifier starting with a capital letter (``X``, ``City``) or with ``?``
  (``?x``); ``_`` is a fresh variable that matches anything;
* a **constant** is a quoted label (``"Nobel Prize"``: the entity with that ``rdfs:label``, looked
  up in the store when the rules are applied; an alias works when no label matches), a full IRI
  ``<...>``, a prefixed name, a number (``1867``, an ``xsd:integer``) or a literal written as in
  Turtle (``"1867"^^xsd:gYear``, ``"Paris"@fr``).

Every variable of the conclusions must occur in the conditions.

**CONSTRUCT rules** are a SPARQL ``CONSTRUCT { template } WHERE { patterns }`` block whose WHERE
part holds triple patterns only (no FILTER, OPTIONAL, UNION, property paths or sub-queries; use
several rules instead). They may use variables in the predicate position. SPARQL meanings apply
inside them: ``"text"`` is a literal, ``a`` is ``rdf:type``.

**Rule names**: ``name:`` (a name, a colon and a space) before a rule names it; explanations show
it. Unnamed rules are called ``rule-N`` after their line number ``N``.

**Prefixes**: ``@prefix name: <IRI> .`` (Turtle style) or ``PREFIX name: <IRI>`` (SPARQL style).
``rdf``, ``rdfs``, ``owl``, ``xsd``, ``skos``, ``ent`` (kgqa entities), ``rel`` (kgqa relations) and
``kgqa`` are predefined.

Every mistake is reported with its line and what to write instead:

>>> parse_rules("bornIn(X, C) -> bornInCountry(X, Y)")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
reasoning.rules.parser.RuleSyntaxError: [E-RULES-SYNTAX] rules, line 1: ...
>>> [str(r) for r in parse_rules("r1: bornIn(X, C), locatedIn(C, Y) -> bornInCountry(X, Y)")]
['r1: (?X <https://kgqa.dev/relation/bornIn> ?C), (?C <https://kgqa.dev/relation/locatedIn> ?Y) -> (?X <https://kgqa.dev/relation/bornInCountry> ?Y)']
'''
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Literal, URIRef, Variable

from kg.errors import ParseError
from kg.namespaces import ENT, KGQA, OWL, RDF, RDFS, REL, SKOS, XSD, relation_iri
from reasoning.rules.model import Atom, Rule, Var, unsafe_head_variables

DEFAULT_PREFIXES = {
    "rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL), "xsd": str(XSD), "skos": str(SKOS),
    "ent": str(ENT), "rel": str(REL), "kgqa": str(KGQA._NS),
}

HORN_EXAMPLE = "bornIn(X, C), locatedIn(C, Y) -> bornInCountry(X, Y)"


class RuleSyntaxError(ParseError):
    """A rule file that cannot be read; the message names the line and what to write."""

    code = "E-RULES-SYNTAX"


@dataclass(frozen=True)
class LabelRef:
    """A quoted label in a Horn rule, resolved to an entity IRI when the rules meet a store."""

    label: str
    line: int

    def n3(self) -> str:  # so that str(Atom) shows it
        return '"' + self.label.replace('"', '\\"') + '"'

    def __str__(self) -> str:
        return self.n3()


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f]+)
  | (?P<nl>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<iri><[^<>"{}|^`\\\s]*>)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<directive>@prefix\b)
  | (?P<arrow>->)
  | (?P<number>[-+]?\d+(?:\.\d+)?(?![\w]))
  | (?P<label>[A-Za-z_](?:[\w]|-(?!>))*:(?=\s|$))
  | (?P<pname>[A-Za-z_](?:[\w.]|-(?!>))*:(?:[\w%]|[.-](?=[\w%]))+)
  | (?P<var>\?[A-Za-z_]\w*)
  | (?P<ident>[A-Za-z_](?:[\w]|-(?!>))*)
  | (?P<punct>[(),.{}])
  | (?P<dt>\^\^)
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
""", re.VERBOSE)


@dataclass
class _Tok:
    kind: str
    text: str
    line: int
    start: int
    end: int


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.line = 1
        self._peeked: _Tok | None = None

    def _next_raw(self) -> _Tok | None:
        while self.pos < len(self.text):
            m = _TOKEN.match(self.text, self.pos)
            if m is None:
                return _Tok("error", self.text[self.pos], self.line, self.pos, self.pos + 1)
            kind, text = m.lastgroup, m.group()
            tok = _Tok(kind, text, self.line, self.pos, m.end())
            self.pos = m.end()
            if kind == "nl":
                self.line += 1
                continue
            if kind in ("ws", "comment"):
                continue
            return tok
        return None

    def peek(self) -> _Tok | None:
        if self._peeked is None:
            self._peeked = self._next_raw()
        return self._peeked

    def next(self) -> _Tok | None:
        tok = self.peek()
        self._peeked = None
        return tok

    def raw_block(self, start: int) -> tuple[int, int]:
        """The end offset of a ``{ ... }`` block opening at ``start`` (strings and IRIs skipped)."""
        depth, i, text = 0, start, self.text
        while i < len(text):
            c = text[i]
            if c == '"':
                m = re.compile(r'"(?:[^"\\\n]|\\.)*"').match(text, i)
                i = m.end() if m else i + 1
                continue
            if c == "#":
                j = text.find("\n", i)
                i = len(text) if j < 0 else j
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return start, i + 1
            i += 1
        return start, -1


class _Parser:
    def __init__(self, text: str, path: str | None):
        self.scanner = _Scanner(text)
        self.text = text
        self.path = path
        self.prefixes = dict(DEFAULT_PREFIXES)
        self.rules: list[Rule] = []
        self.names: set[str] = set()
        self._anon = 0

    def error(self, message: str, line: int) -> RuleSyntaxError:
        return RuleSyntaxError(message, path=self.path or "rules", line=line)

    def expect(self, kind: str, text: str | None, what: str, hint: str, line: int) -> _Tok:
        tok = self.scanner.next()
        if tok is None or tok.kind != kind or (text is not None and tok.text != text):
            found = "the end of the file" if tok is None else repr(tok.text)
            raise self.error(f"expected {what}, found {found}; {hint}", tok.line if tok else line)
        return tok

    # ------------------------------------------------------------------ statements
    def parse(self) -> list[Rule]:
        sc = self.scanner
        while (tok := sc.peek()) is not None:
            if tok.kind == "directive" or (tok.kind == "ident" and tok.text.upper() == "PREFIX"):
                self.prefix(sc.next())
            elif tok.kind == "error":
                raise self.error(f"unexpected character {tok.text!r}; a rule looks like `{HORN_EXAMPLE}`",
                                 tok.line)
            else:
                self.rule()
        return self.rules

    def prefix(self, tok: _Tok) -> None:
        name = self.scanner.next()
        if name is None or name.kind != "label":
            raise self.error("expected a prefix name with a colon after it, as in "
                             "`@prefix geo: <http://example.org/geo#> .`", tok.line)
        iri = self.expect("iri", None, "an IRI in <angle brackets>",
                          "write `@prefix geo: <http://example.org/geo#> .`", name.line)
        self.prefixes[name.text[:-1]] = iri.text[1:-1]
        nxt = self.scanner.peek()
        if tok.kind == "directive" and nxt is not None and nxt.kind == "punct" and nxt.text == ".":
            self.scanner.next()

    def rule(self) -> None:
        sc = self.scanner
        first = sc.peek()
        name = None
        if first.kind == "label":
            sc.next()
            name = first.text[:-1]
            if sc.peek() is None:
                raise self.error(f"rule {name!r} has no body; write `{name}: {HORN_EXAMPLE}`", first.line)
        start = sc.peek()
        if start.kind == "ident" and start.text.upper() == "CONSTRUCT":
            rule = self.construct(name, start)
        else:
            rule = self.horn(name, start)
        if rule.name in self.names:
            raise self.error(f"a second rule is named {rule.name!r}; give each rule its own name", start.line)
        self.names.add(rule.name)
        self.rules.append(rule)

    # ------------------------------------------------------------------ Horn rules
    def horn(self, name: str | None, start: _Tok) -> Rule:
        sc = self.scanner
        self._vars_seen: set[str] = set()
        body = self.atoms(start.line, "condition")
        tok = sc.next()
        if tok is None or tok.kind != "arrow":
            found = "the end of the file" if tok is None else repr(tok.text)
            raise self.error(f"expected ',' or '->' after the conditions, found {found}; "
                             f"a rule looks like `{HORN_EXAMPLE}`", tok.line if tok else start.line)
        head = self.atoms(tok.line, "conclusion")
        nxt = sc.peek()
        if nxt is not None and nxt.kind == "punct" and nxt.text == ".":
            sc.next()
        rule = Rule(name or f"rule-{start.line}", tuple(body), tuple(head), source=self.path, line=start.line)
        bad = unsafe_head_variables(rule)
        if bad:
            raise self.error(f"variable(s) {', '.join(sorted(bad))} appear in the conclusion but in no "
                             "condition; every variable after '->' must occur before it", start.line)
        return rule

    def atoms(self, line: int, role: str) -> list[Atom]:
        out = [self.atom(line, role)]
        while (tok := self.scanner.peek()) is not None and tok.kind == "punct" and tok.text == ",":
            self.scanner.next()
            out.append(self.atom(tok.line, role))
        return out

    def atom(self, line: int, role: str) -> Atom:
        sc = self.scanner
        tok = sc.next()
        if tok is None:
            raise self.error(f"the file ends where a {role} was expected; a rule looks like `{HORN_EXAMPLE}`", line)
        if tok.kind == "ident":
            pred = relation_iri(tok.text)
        elif tok.kind == "pname":
            pred = self.pname(tok)
        elif tok.kind == "iri":
            pred = URIRef(tok.text[1:-1])
        else:
            raise self.error(f"expected a {role} like `bornIn(X, C)`, found {tok.text!r}", tok.line)
        self.expect("punct", "(", f"'(' after {tok.text!r}", f"write `{tok.text}(X, Y)`", tok.line)
        subject = self.term(tok.line)
        self.expect("punct", ",", "',' between the two arguments",
                    f"an atom has exactly two arguments: `{tok.text}(X, Y)`", tok.line)
        obj = self.term(tok.line)
        self.expect("punct", ")", "')' after the second argument",
                    f"an atom has exactly two arguments: `{tok.text}(X, Y)`", tok.line)
        return Atom(subject, pred, obj)

    def term(self, line: int):
        tok = self.scanner.next()
        if tok is None:
            raise self.error("the file ends inside an atom", line)
        k, t = tok.kind, tok.text
        if k == "var":
            return Var(t[1:])
        if k == "ident":
            if t == "_":
                self._anon += 1
                return Var(f"_anon{self._anon}")
            if t[0].isupper():
                return Var(t)
            raise self.error(
                f"{t!r} is neither a variable nor a constant; write a variable with a capital letter "
                f"({t[0].upper() + t[1:]}), an entity by its label in quotes (\"{t}\"), or an IRI <...>", tok.line)
        if k == "iri":
            return URIRef(t[1:-1])
        if k == "pname":
            return self.pname(tok)
        if k == "number":
            return Literal(t, datatype=XSD.decimal if "." in t else XSD.integer)
        if k == "string":
            text = _unescape(t[1:-1])
            nxt = self.scanner.peek()
            if nxt is not None and nxt.kind == "lang" and nxt.start == tok.end:
                self.scanner.next()
                return Literal(text, lang=nxt.text[1:])
            if nxt is not None and nxt.kind == "dt" and nxt.start == tok.end:
                self.scanner.next()
                dt = self.scanner.next()
                if dt is None or dt.kind not in ("iri", "pname"):
                    raise self.error("expected a datatype IRI after '^^', as in \"1867\"^^xsd:gYear", tok.line)
                return Literal(text, datatype=URIRef(dt.text[1:-1]) if dt.kind == "iri" else self.pname(dt))
            return LabelRef(text, tok.line)
        raise self.error(f"expected a variable or a constant, found {t!r}", tok.line)

    def pname(self, tok: _Tok) -> URIRef:
        prefix, local = tok.text.split(":", 1)
        if prefix not in self.prefixes:
            raise self.error(f"unknown prefix {prefix!r}; declare it first with "
                             f"`@prefix {prefix}: <http://...> .`", tok.line)
        return URIRef(self.prefixes[prefix] + local)

    # ------------------------------------------------------------------ CONSTRUCT rules
    def construct(self, name: str | None, start: _Tok) -> Rule:
        sc = self.scanner
        sc.next()  # CONSTRUCT
        text = self.text
        i = _skip_space(text, start.end)
        if i >= len(text) or text[i] != "{":
            raise self.error("expected '{' after CONSTRUCT; write `CONSTRUCT { ?x rel:r ?y } WHERE { ... }`",
                             start.line)
        _, end1 = sc.raw_block(i)
        if end1 < 0:
            raise self.error("the CONSTRUCT template's '{' is never closed", start.line)
        j = _skip_space(text, end1)
        if not text[j:j + 5].upper() == "WHERE":
            raise self.error("expected WHERE { ... } after the CONSTRUCT template", _line_at(text, j))
        k = _skip_space(text, j + 5)
        if k >= len(text) or text[k] != "{":
            raise self.error("expected '{' after WHERE", _line_at(text, k))
        _, end2 = sc.raw_block(k)
        if end2 < 0:
            raise self.error("the WHERE block's '{' is never closed", _line_at(text, k))
        block = text[start.start:end2]
        sc.pos = end2
        sc.line = _line_at(text, end2)
        sc._peeked = None
        template, patterns = self.sparql_bgp(block, start.line)
        rule = Rule(name or f"rule-{start.line}", tuple(patterns), tuple(template),
                    source=self.path, line=start.line)
        bad = unsafe_head_variables(rule)
        if bad:
            raise self.error(f"variable(s) {', '.join('?' + b for b in sorted(bad))} appear in the CONSTRUCT "
                             "template but not in WHERE; bind them in the WHERE patterns", start.line)
        return rule

    def sparql_bgp(self, block: str, line: int):
        from pyparsing import ParseException
        from rdflib.plugins.sparql.algebra import translateQuery
        from rdflib.plugins.sparql.parser import parseQuery

        # prefixes go on the block's first line so the parser's line numbers stay the file's
        head = " ".join(f"PREFIX {p}: <{iri}>" for p, iri in self.prefixes.items())
        try:
            query = translateQuery(parseQuery(head + " " + block))
        except ParseException as err:
            raise self.error(f"this CONSTRUCT rule is not valid SPARQL ({err.msg}, column {err.col}); "
                             "write `CONSTRUCT { ?x rel:r ?y } WHERE { ?x rel:p ?z . ?z rel:q ?y }`",
                             line + err.lineno - 1) from None
        except Exception as err:  # rdflib raises plain exceptions for e.g. unknown prefixes
            raise self.error(f"this CONSTRUCT rule cannot be read: {err}", line) from None
        patterns = []
        self._collect(query.algebra.p, patterns, line)
        if not patterns:
            raise self.error("the WHERE block has no triple pattern", line)
        body = [Atom(*(self._sparql_term(t, line, where=True) for t in tp)) for tp in patterns]
        head = [Atom(*(self._sparql_term(t, line, where=False) for t in tp)) for tp in query.algebra.template]
        # rdflib keeps the template as a set: sort so the rule prints the same every time
        head.sort(key=str)
        if not head:
            raise self.error("the CONSTRUCT template is empty", line)
        return head, body

    def _collect(self, node, out: list, line: int) -> None:
        name = getattr(node, "name", None)
        if name in ("Project", "ToMultiSet"):
            self._collect(node.p, out, line)
        elif name == "BGP":
            out.extend(node.triples)
        elif name == "Join":
            self._collect(node.p1, out, line)
            self._collect(node.p2, out, line)
        else:
            shown = {"Filter": "FILTER", "LeftJoin": "OPTIONAL", "Union": "UNION", "Extend": "BIND",
                     "Minus": "MINUS", "Graph": "GRAPH", "values": "VALUES"}.get(name, name or "a path")
            raise self.error(f"CONSTRUCT rules take triple patterns only, and this one uses {shown}; "
                             "split it into plain patterns or several rules", line)

    def _sparql_term(self, t, line: int, *, where: bool):
        if isinstance(t, Variable):
            return Var(str(t))
        if isinstance(t, BNode):
            if where:
                return Var("_b_" + str(t))
            raise self.error("blank nodes in a CONSTRUCT template are not supported (a rule does not "
                             "invent nodes); use a variable bound in WHERE", line)
        if isinstance(t, (URIRef, Literal)):
            return t
        raise self.error("CONSTRUCT rules take triple patterns only (no property paths)", line)


def _skip_space(text: str, i: int) -> int:
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text[i] == "#":
            j = text.find("\n", i)
            i = len(text) if j < 0 else j
        else:
            break
    return i


def _line_at(text: str, i: int) -> int:
    return text.count("\n", 0, i) + 1


def _unescape(s: str) -> str:
    return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s)


def parse_rules(text: str, *, path: str | None = None) -> list[Rule]:
    """Rules from the text of a rule file (see the module docstring for the format)."""
    return _Parser(text, path).parse()


def load_rules(path) -> list[Rule]:
    """Rules from a rule file; :class:`RuleSyntaxError` names the line of the first mistake.

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".rules", delete=False) as f:
    ...     _ = f.write("# ancestors\\nparentOf(X, Y) -> ancestorOf(X, Y)\\n")
    >>> [r.name for r in load_rules(f.name)]
    ['rule-2']
    >>> os.unlink(f.name)
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleSyntaxError("no such rule file; give the path of a rules file", path=str(path)) from None
    except UnicodeDecodeError:
        raise RuleSyntaxError("the rule file is not UTF-8 text", path=str(path)) from None
    except IsADirectoryError:
        raise RuleSyntaxError("this is a folder; give the path of a rules file", path=str(path)) from None
    return parse_rules(text, path=str(path))
