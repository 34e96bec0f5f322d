# An object's name: the program's own, from the line that made it
# (`q = mp.Queue()` is q, `with Pool(4) as pool:` is pool, `a, b = Lock(),
# Lock()` is a and b, `parent_conn, child_conn = Pipe()` is both ends).
# Imported when the program makes its first object.

import linecache
import re

assign = re.compile(r"^\s*(?:self\.)?([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)")
two = re.compile(r"^\s*\(?\s*([A-Za-z_]\w*)\s*,\s*([A-Za-z_]\w*)\s*\)?\s*=(?!=)")
with_as = re.compile(r"\bas\s+([A-Za-z_]\w*)\s*[:,)]")
several = re.compile(r"^\s*\(?\s*[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)+\s*,?\s*\)?\s*=(?!=)")


def name_at(f, pair=False):
    # The name given on the frame's line, or None.
    text = linecache.getline(f.f_code.co_filename, f.f_lineno) or ""
    m = two.match(text) if pair else None
    if m:
        return "%s ⇄ %s" % (m.group(1), m.group(2))
    if several.match(text):
        return unpacked_name(f, text)
    m = assign.match(text) or with_as.search(text)
    return m.group(1) if m else None


def unpacked_name(f, text):
    # `a, b = Lock(), Lock()`: the name at the place, among the targets, of
    # the call being made (its column, from the frame's position).
    try:
        import ast
        positions = list(f.f_code.co_positions())
        col = positions[f.f_lasti // 2][2]
        indent = len(text) - len(text.lstrip())
        node = ast.parse(text.strip()).body[0]
        if col is None or not isinstance(node, ast.Assign) or len(node.targets) != 1:
            return None
        names, values = node.targets[0], node.value
        if not isinstance(names, ast.Tuple) or not isinstance(values, ast.Tuple):
            return None
        for target, value in zip(names.elts, values.elts):
            if (value.col_offset <= col - indent < value.end_col_offset
                    and isinstance(target, ast.Name)):
                return target.id
    except Exception:
        return None
    return None
