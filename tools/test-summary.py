#!/usr/bin/env python3
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

"""Print one closing line for several subunit streams: N passed, N failed.

Exits non-zero when a test failed or when no test ran at all.
"""

import sys

import subunit
import testtools


def count(paths):
    totals = {'passed': 0, 'failed': 0, 'skipped': 0}

    def on_test(test):
        status = test['status']
        if status in ('success', 'xfail'):
            totals['passed'] += 1
        elif status == 'skip':
            totals['skipped'] += 1
        elif status in ('fail', 'uxsuccess'):
            totals['failed'] += 1

    for path in paths:
        with open(path, 'rb') as stream:
            case = subunit.ByteStreamToStreamResult(stream)
            result = testtools.StreamToDict(on_test)
            result.startTestRun()
            case.run(result)
            result.stopTestRun()
    return totals


def main(argv):
    totals = count(argv[1:])
    line = '%(passed)d passed, %(failed)d failed' % totals
    if totals['skipped']:
        line += ', %(skipped)d skipped' % totals
    print(line)
    if totals['failed']:
        return 1
    if not totals['passed']:
        print('No test ran.', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
