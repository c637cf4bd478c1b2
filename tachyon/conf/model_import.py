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

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'model_import',
    title='Watcher XML model import options',
    help='Bounds on the Watcher XML documents that "tachyon-manage model '
         'import" reads. A document beyond them is refused whole, with one '
         'line naming the element and the attribute, before anything is '
         'written.')

opts = [
    cfg.IntOpt('max_document_size',
               default=64 * 1024 * 1024,
               min=1,
               help='Largest document, in bytes, that may be imported. At '
                    'most this many bytes (plus one) are read from the '
                    'file or standard input; a larger document is refused. '
                    'Parsing needs several times the document size in '
                    'memory. The default, 64 MiB, holds a cloud of tens '
                    'of thousands of compute nodes and instances.'),
    cfg.IntOpt('max_attribute_length',
               default=4096,
               min=1,
               help='Longest attribute value (or element text) of a '
                    'document, in bytes of UTF-8. Hostnames, names and '
                    'uuids are far shorter; instance metadata and flavor '
                    'extra specs are the values that may need more. '
                    'Identifiers Tachyon indexes (hostnames, pool names) '
                    'cannot exceed about 8000 bytes in Neo4j whatever '
                    'this says.'),
    cfg.IntOpt('stage_chunk_size',
               default=5000,
               min=1,
               help='Records a staged import of a compute model writes '
                    'per transaction. A replacing import ("--replace"), '
                    'and a merging one of more records (nodes and '
                    'instances) than this, is staged in transactions of '
                    'this size and switched to in one short transaction, '
                    'so its memory in Neo4j is bounded by this and by '
                    'what the import changes, not by the size of the '
                    'model. A smaller merge is one transaction.'),
    cfg.IntOpt('stage_lease_ttl',
               default=60,
               min=3,
               help='Seconds a staged import of a compute model holds '
                    'its lease without renewing it; it renews it after '
                    'every transaction. Only one staged import runs at '
                    'a time: after an import was killed, the next one may '
                    'start when this has passed.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
