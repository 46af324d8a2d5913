"""Programs the scripted policy proposes: small, deterministic, multi-step, each with ≥ 10 inputs and a hint.

These are *our* programs (not model output), so the scripted policy may run them in-process to know its own
answers. Every program starts with `def f(` so it also fits the prefilled `def f(` answer skeleton.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LibraryProgram:
    program: str
    inputs: tuple[str, ...]
    message: str


LIBRARY: tuple[LibraryProgram, ...] = (
    LibraryProgram(
        "def f(ops):\n    balance = 0\n    history = []\n    for kind, amount in ops:\n"
        "        if kind == 'd':\n            balance += amount\n        else:\n"
        "            balance -= min(balance, amount)\n        history.append(balance)\n    return history",
        (
            "[('d', 5), ('w', 3)]",
            "[('w', 4)]",
            "[('d', 10), ('w', 20), ('d', 1)]",
            "[]",
            "[('d', 1), ('d', 2), ('d', 3)]",
            "[('d', 7), ('w', 7), ('w', 1)]",
            "[('d', 100), ('w', 1), ('w', 1)]",
            "[('w', 0), ('d', 0)]",
            "[('d', 3), ('w', 2), ('d', 4), ('w', 9)]",
            "[('d', 50)]",
            "[('d', 2), ('w', 1), ('w', 1), ('d', 8)]",
        ),
        "A running account: deposits add, withdrawals never go below zero; report the balance after each operation.",
    ),
    LibraryProgram(
        "def f(s):\n    runs = []\n    for ch in s:\n        if runs and runs[-1][0] == ch:\n"
        "            runs[-1] = (ch, runs[-1][1] + 1)\n        else:\n            runs.append((ch, 1))\n    return runs",
        ("'aaabcc'", "''", "'abc'", "'zzzz'", "'aabbaa'", "'x'", "'mississippi'", "'112223'", "'  a'", "'abba'"),
        "Compress consecutive repeated characters into (character, count) pairs.",
    ),
    LibraryProgram(
        "def f(text, k):\n    out = []\n    for ch in text:\n        if ch.isalpha():\n"
        "            base = ord('a') if ch.islower() else ord('A')\n            out.append(chr((ord(ch) - base + k) % 26 + base))\n"
        "        else:\n            out.append(ch)\n    return ''.join(out)",
        (
            "'abc', 1",
            "'xyz', 3",
            "'Hello, World!', 13",
            "'', 5",
            "'AbZ', 25",
            "'shift me', 0",
            "'a-b-c', 2",
            "'Zz', 1",
            "'rot', 26",
            "'Python3', 7",
        ),
        "Shift each letter around the alphabet by the given amount, keeping case; other characters stay.",
    ),
    LibraryProgram(
        "def f(n):\n    steps = 0\n    while n != 1:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
        "        steps += 1\n    return steps",
        ("1", "2", "3", "6", "7", "9", "27", "16", "97", "12"),
        "Count how many halve-or-triple-plus-one moves it takes to reach 1.",
    ),
    LibraryProgram(
        "def f(matrix):\n    return [list(row) for row in zip(*matrix)]",
        (
            "[[1, 2], [3, 4]]",
            "[[1, 2, 3]]",
            "[[1], [2], [3]]",
            "[]",
            "[[0, 0], [0, 1]]",
            "[['a', 'b'], ['c', 'd']]",
            "[[1, 2, 3], [4, 5, 6]]",
            "[[7]]",
            "[[1, 0, 0], [0, 1, 0], [0, 0, 1]]",
            "[[True, False]]",
        ),
        "Flip the grid over its main diagonal.",
    ),
    LibraryProgram(
        "def f(sentence):\n    counts = {}\n    for word in sentence.lower().split():\n"
        "        counts[word] = counts.get(word, 0) + 1\n    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))",
        (
            "'the cat the dog'",
            "''",
            "'a A a b'",
            "'one two three'",
            "'x x x'",
            "'b a b a c'",
            "'Hi hi HI'",
            "'red blue red green blue red'",
            "'solo'",
            "'p q r p'",
        ),
        "List each word (case-insensitive) with how often it occurs, most frequent first, ties alphabetical.",
    ),
    LibraryProgram(
        "def f(s):\n    depth = 0\n    best = 0\n    for ch in s:\n        if ch == '(':\n            depth += 1\n"
        "            best = max(best, depth)\n        elif ch == ')':\n            depth -= 1\n            if depth < 0:\n"
        "                return -1\n    return best if depth == 0 else -1",
        ("'()'", "'(())'", "''", "')('", "'(()())'", "'((('", "'a(b)c'", "'(()(()))'", "'())'", "'((x))(y)'"),
        "Deepest nesting of parentheses, or -1 when they are not balanced.",
    ),
    LibraryProgram(
        "def f(n):\n    def digit_sum(x):\n        return sum(int(d) for d in str(x))\n    trail = [n]\n"
        "    while n >= 10:\n        n = digit_sum(n)\n        trail.append(n)\n    return trail",
        ("5", "38", "999", "10", "123456", "0", "19", "777", "1000001", "98"),
        "Repeatedly add up the digits until one digit is left; return every number on the way.",
    ),
    LibraryProgram(
        "def f(program):\n    stack = []\n    for token in program.split():\n        if token == 'add':\n"
        "            stack.append(stack.pop() + stack.pop())\n        elif token == 'mul':\n"
        "            stack.append(stack.pop() * stack.pop())\n        elif token == 'dup':\n            stack.append(stack[-1])\n"
        "        else:\n            stack.append(int(token))\n    return stack",
        (
            "'1 2 add'",
            "'3 dup mul'",
            "'2 3 4 mul add'",
            "'5'",
            "'1 1 add dup add'",
            "'7 0 mul'",
            "'2 dup dup mul mul'",
            "'10 20 30'",
            "'4 5 add 6 mul'",
            "'9 dup add 1 add'",
        ),
        "Evaluate a tiny postfix language with push, add, mul and dup; return the final stack.",
    ),
    LibraryProgram(
        "def f(words):\n    groups = {}\n    for w in words:\n        groups.setdefault(len(w), []).append(w)\n"
        "    return {k: sorted(v) for k, v in sorted(groups.items())}",
        (
            "['a', 'bb', 'cc', 'd']",
            "[]",
            "['hello']",
            "['x', 'y', 'z']",
            "['ab', 'ba', 'abc']",
            "['tree', 'a', 'bee']",
            "['', 'q']",
            "['same', 'size', 'four']",
            "['one', 'three', 'five', 'seven']",
            "['zz', 'aa', 'm']",
        ),
        "Group the words by their length, each group sorted alphabetically.",
    ),
    LibraryProgram(
        "def f(n, m):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, (a + b) % m\n    return a",
        ("0, 10", "1, 10", "10, 100", "20, 7", "5, 2", "30, 1000", "7, 13", "50, 97", "3, 5", "12, 144"),
        "The n-th number of the 0, 1, 1, 2, 3, 5, ... sequence, reduced modulo m.",
    ),
)


IDENTITY_MESSAGE_HINT = "returns its input"
GENERIC_INPUTS = ("0", "1", "-3", "'abc'", "[1, 2]", "(4, 5)", "{'k': 1}", "2.5", "''", "[[1], [2, 3]]")
"""Inputs the scripted induction proposer uses for programs it does not know (identity-friendly)."""
