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

"""Watcher's baremetal model XML (BaremetalModelRoot) <-> records.

``<IronicNode>`` attributes carry uuid, power_state, maintenance and
maintenance_reason; an ``<extra>`` child holds one element per key (the
form of Watcher's scenario files). ``maintenance_reason="null"`` is read as
no reason, and booleans are parsed rather than coerced.
"""

import collections

from lxml import etree

from tachyon import exception
from tachyon.graph import baremetal as baremetal_graph
from tachyon.graph import common as graph_common
from tachyon.model import records
from tachyon.watcher_xml import common

BaremetalModel = collections.namedtuple('BaremetalModel', ['nodes'])


def _extra(el):
    extra = {}
    for child in el:
        if child.tag != 'extra':
            raise exception.InvalidModel(
                element=common.describe(child),
                reason='an IronicNode holds an <extra> element only')
        for item in child:
            extra[item.tag] = (item.text or '').strip()
    return extra


def parse(root):
    nodes, seen = [], set()
    for el in root:
        if el.tag != 'IronicNode':
            raise exception.InvalidModel(
                element=common.describe(el),
                reason='a baremetal model holds IronicNode elements')
        a = common.attributes(el)
        uuid = a.string('uuid', required=True)
        if uuid in seen:
            raise exception.InvalidModel(
                element=common.describe(el),
                reason='duplicate ironic node %s' % common.shorten(uuid))
        seen.add(uuid)
        reason = a.string('maintenance_reason')
        nodes.append(records.IronicNode(
            uuid=uuid, human_id=a.string('human_id', default=''),
            power_state=a.string('power_state'),
            maintenance=a.boolean('maintenance', False),
            maintenance_reason=None if reason in (None, '', 'null', 'None')
            else reason,
            extra=_extra(el), updated_at=None))
    return BaremetalModel(nodes)


def _write(tx, graph, parsed, stale):
    counts = graph_common.SyncCounts()
    if stale:
        counts.deleted += baremetal_graph.remove_ironic_nodes(tx, stale)
    if parsed.nodes:
        counts.add(baremetal_graph.write_ironic_nodes(tx, graph,
                                                      parsed.nodes))
    return counts


def write(graph, parsed, replace=False):
    """Write a parsed baremetal model in one transaction; its counts.

    With ``replace``, the Ironic nodes absent from the document are
    deleted (in the same transaction).
    """
    stale = []
    if replace:
        keep = {n.uuid for n in parsed.nodes}
        stale = [u for u in baremetal_graph.get_all_ironic_nodes(graph)
                 if u not in keep]
    return graph.write_whole(_write, graph, parsed, stale)


def export(graph):
    root = etree.Element(common.ROOT_TAG)
    for node in baremetal_graph.get_baremetal_model(graph)['nodes']:
        node_el = etree.SubElement(root, 'IronicNode', attrib={
            'uuid': node.uuid, 'human_id': node.human_id or '',
            'power_state': node.power_state or '',
            'maintenance': str(bool(node.maintenance)).lower(),
            'maintenance_reason': node.maintenance_reason or 'null'})
        if node.extra:
            extra_el = etree.SubElement(node_el, 'extra')
            for key, value in sorted(node.extra.items()):
                etree.SubElement(extra_el, key).text = str(value)
    return etree.tostring(root, pretty_print=True).decode('utf-8')
