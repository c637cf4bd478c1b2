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

import os
import sys

import subunit
import testtools


def count(path):
    totals = {'passed': 0, 'failed': 0, 'skipped': 0}

    def on_test(test):
        status = test['status']
        if status in ('success', 'xfail'):
            totals['passed'] += 1
        elif status == 'skip':
            totals['skipped'] += 1
        elif status in ('fail', 'uxsuccess'):
            totals['failed'] += 1

    with open(path, 'rb') as stream:
        # Anything that is not subunit (a stray print) is set aside rather
        # than taken for a broken result stream.
        case = subunit.ByteStreamToStreamResult(
            stream, non_subunit_name='stdout')
        result = testtools.StreamToDict(on_test)
        result.startTestRun()
        case.run(result)
        result.stopTestRun()
    return totals


def main(argv):
    grand = {'passed': 0, 'failed': 0, 'skipped': 0}
    rc = 0
    for path in argv[1:]:
        suite = os.path.splitext(os.path.basename(path))[0]
        totals = count(path)
        for key, value in totals.items():
            grand[key] += value
        if not totals['passed'] and not totals['failed']:
            print('No %s test ran.' % suite, file=sys.stderr)
            rc = 1
    line = '%(passed)d passed, %(failed)d failed' % grand
    if grand['skipped']:
        line += ', %(skipped)d skipped' % grand
    print(line)
    if grand['failed'] or not argv[1:]:
        rc = 1
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
