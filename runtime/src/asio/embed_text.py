#!/usr/bin/env python3
"""Turns a text file into a C++ source defining it as a std::string_view, so that the file ships
inside the library (meson runs this at build time: runtime/meson.build). A byte array, not a raw
string literal: no delimiter can clash with the text, and no compiler's literal length limit
applies.

Usage: embed_text.py INPUT OUTPUT NAMESPACE NAME
"""
import sys


def main():
    src, out, namespace, name = sys.argv[1:5]
    with open(src, "rb") as f:
        data = f.read()
    rows = []
    for i in range(0, len(data), 20):
        rows.append("  " + ", ".join(str(b) for b in data[i:i + 20]) + ",")
    text = f"""// Generated from {src.split('/')[-1]} by embed_text.py at build time: edit that file, not this one.
#include <string_view>

namespace {namespace} {{

namespace {{
const unsigned char bytes[] = {{
{chr(10).join(rows)}
  0}};
}}  // namespace

extern const std::string_view {name};
const std::string_view {name}(reinterpret_cast<const char*>(bytes), sizeof bytes - 1);

}}  // namespace {namespace}
"""
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
