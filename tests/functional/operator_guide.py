# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The literal blocks of doc/source/operator-guide.rst, for the tests that
run the commands the guide gives operators."""

import os

PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'doc', 'source', 'operator-guide.rst')


def literal_blocks(path=PATH):
    """Every ``::`` block of the page, as a list of its dedented lines."""
    with open(path) as f:
        lines = f.read().splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.rstrip().endswith('::') or line.lstrip().startswith(
                '..'):
            continue
        indent = len(line) - len(line.lstrip())
        body = []
        while index < len(lines):
            text = lines[index]
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            body.append(text)
            index += 1
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        if body:
            cut = min(len(t) - len(t.lstrip()) for t in body if t.strip())
            blocks.append([t[cut:] for t in body])
    return blocks


def block_with(line, path=PATH):
    """The one literal block that has ``line`` as one of its lines."""
    found = [block for block in literal_blocks(path) if line in block]
    if len(found) != 1:
        raise AssertionError('%d blocks of %s have the line %r'
                             % (len(found), path, line))
    return found[0]
