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

"""Watcher's storage model XML (StorageModelRoot) <-> records.

The document nests ``<Pool>`` under ``<StorageNode>`` and ``<Volume>``
under ``<Pool>``; a top-level ``<Volume>`` is unmapped whatever its host
says, as in Watcher. Attributes are read as Watcher writes them, JSON or
Python literals alike (``volume_type="['fast']"``, ``attachments``,
``metadata``). Booleans are parsed (``"false"`` is false), where Watcher's
``from_xml`` would coerce any non-empty string to true.
"""

import collections
import json

from lxml import etree

from tachyon import exception
from tachyon.graph import common as graph_common
from tachyon.graph import storage as storage_graph
from tachyon.graph import upsert
from tachyon.model import records
from tachyon.watcher_xml import common

StorageModel = collections.namedtuple('StorageModel',
                                      ['nodes', 'pools', 'volumes'])

POOL_INT_FIELDS = ('total_volumes', 'total_capacity_gb', 'free_capacity_gb',
                   'provisioned_capacity_gb', 'allocated_capacity_gb',
                   'virtual_free')


def _literal(attrs, attr, kind):
    value = attrs.string(attr)
    if value is None or value == '':
        return None
    if kind is str:
        return value
    data = common.literal_value(value, lambda reason: attrs.fail(reason,
                                                                 attr))
    if not isinstance(data, kind):
        attrs.fail('not a %s' % kind.__name__, attr)
    return data


def _volume_types(attrs):
    value = attrs.string('volume_type')
    if not value:
        return []
    if value.startswith('['):
        types = _literal(attrs, 'volume_type', list)
        return [str(t) for t in types]
    return [value]


def _none(value):
    return None if value in (None, '', 'None', 'null') else value


def _parse_volume(el, pool_name):
    a = common.attributes(el)
    attachments = _literal(a, 'attachments', list) or []
    for item in attachments:
        if not isinstance(item, dict):
            a.fail('each attachment must be a mapping', 'attachments')
    size = a.integer('size', required=True)
    return records.Volume(
        uuid=a.string('uuid', required=True),
        name=a.string('name', default=''),
        size=size,
        status=a.string('status', default='available'),
        attachments=attachments,
        multiattach=a.boolean('multiattach', False),
        snapshot_id=_none(a.string('snapshot_id')),
        project_id=_none(a.string('project_id')),
        metadata=a.mapping('metadata', default={}),
        bootable=a.boolean('bootable', False),
        volume_type=_none(a.string('volume_type')),
        created_at=_none(a.string('created_at')),
        host=_none(a.string('host')),
        # '' marks an unmapped volume (None would default to its host).
        pool_name=pool_name or '',
        updated_at=None)


def parse(root):
    """A parsed storage document -> StorageModel(nodes, pools, volumes)."""
    nodes, pools, volumes = [], [], []
    seen = set()

    def once(kind, key, el):
        if (kind, key) in seen:
            raise exception.InvalidModel(
                element=common.describe(el),
                reason='duplicate %s %s' % (kind, common.shorten(key)))
        seen.add((kind, key))

    for el in root:
        if el.tag == 'StorageNode':
            a = common.attributes(el)
            host = a.string('host', required=True)
            once('storage node', host, el)
            nodes.append(records.StorageNode(
                host=host, zone=a.string('zone', default=''),
                status=a.string('status', default='enabled'),
                state=a.string('state', default='up'),
                volume_type=_volume_types(a), updated_at=None))
            for pool_el in el:
                if pool_el.tag != 'Pool':
                    raise exception.InvalidModel(
                        element=common.describe(pool_el),
                        reason='a StorageNode holds Pool elements only')
                pa = common.attributes(pool_el)
                name = pa.string('name', required=True)
                if '#' not in name:
                    pa.fail('%s is not host@backend#pool'
                            % common.shorten(name), 'name')
                once('pool', name, pool_el)
                fields = {f: pa.integer(f) or 0 for f in POOL_INT_FIELDS}
                pools.append(records.Pool(name=name, node_host=host,
                                          updated_at=None, **fields))
                for vol_el in pool_el:
                    if vol_el.tag != 'Volume':
                        raise exception.InvalidModel(
                            element=common.describe(vol_el),
                            reason='a Pool holds Volume elements only')
                    vol = _parse_volume(vol_el, name)
                    once('volume', vol.uuid, vol_el)
                    volumes.append(vol)
        elif el.tag == 'Volume':
            vol = _parse_volume(el, None)
            once('volume', vol.uuid, el)
            volumes.append(vol)
        else:
            raise exception.InvalidModel(
                element=common.describe(el),
                reason='a storage model holds StorageNode and Volume '
                       'elements')
    return StorageModel(nodes, pools, volumes)


def _write(tx, graph, parsed, stale):
    counts = graph_common.SyncCounts()
    for entity, uuids in zip((storage_graph.VOLUME, storage_graph.POOL,
                              storage_graph.STORAGE_NODE), stale):
        if uuids:
            counts.deleted += upsert.delete(tx, entity, uuids)
    for write_rows, items in ((storage_graph.write_storage_nodes,
                               parsed.nodes),
                              (storage_graph.write_pools, parsed.pools),
                              (storage_graph.write_volumes, parsed.volumes)):
        if items:
            counts.add(write_rows(tx, graph, items))
    return counts


def write(graph, parsed, replace=False):
    """Write a parsed storage model in one transaction; returns its counts.

    With ``replace``, storage entities absent from the document are
    deleted first (in the same transaction).
    """
    stale = ([], [], [])
    if replace:
        current = storage_graph.get_storage_model(graph)
        keep_vols = {v.uuid for v in parsed.volumes}
        keep_pools = {p.uuid for p in parsed.pools}
        keep_nodes = {n.uuid for n in parsed.nodes}
        stale = ([v.uuid for v in current['volumes']
                  if v.uuid not in keep_vols],
                 [p.uuid for p in current['pools']
                  if p.uuid not in keep_pools],
                 [n.uuid for n in current['nodes']
                  if n.uuid not in keep_nodes])
    return graph.write_whole(_write, graph, parsed, stale)


def _str(value):
    return '' if value is None else str(value)


def _volume_el(vol):
    return {'uuid': vol.uuid, 'size': str(vol.size), 'status': vol.status,
            'attachments': json.dumps(vol.attachments or []),
            'name': vol.name or '',
            'multiattach': str(bool(vol.multiattach)).lower(),
            'snapshot_id': _str(vol.snapshot_id),
            'project_id': _str(vol.project_id),
            'metadata': json.dumps(vol.metadata or {}),
            'bootable': str(bool(vol.bootable)).lower(),
            'volume_type': _str(vol.volume_type),
            'created_at': _str(vol.created_at), 'host': _str(vol.host)}


def _types_attr(types):
    # Watcher's from_xml wraps the attribute in a list: one type is
    # written bare; several (which Watcher's XML cannot carry) as JSON.
    if len(types) == 1:
        return types[0]
    return json.dumps(types) if types else ''


def export(graph):
    """The graph's storage model as Watcher's XML text."""
    model = storage_graph.get_storage_model(graph)
    pools = {p.name: p for p in model['pools']}
    volumes = {v.uuid: v for v in model['volumes']}
    mapped = set()
    root = etree.Element(common.ROOT_TAG)
    for node in sorted(model['nodes'], key=lambda n: n.host):
        node_el = etree.SubElement(root, 'StorageNode', attrib={
            'host': node.host, 'zone': node.zone or '',
            'status': node.status, 'state': node.state,
            'volume_type': _types_attr(node.volume_type or [])})
        for pool_name in sorted(model['node_pools'].get(node.host, ())):
            pool = pools[pool_name]
            attrib = {'name': pool.name}
            attrib.update({f: str(getattr(pool, f) or 0)
                           for f in POOL_INT_FIELDS})
            pool_el = etree.SubElement(node_el, 'Pool', attrib=attrib)
            for vol_uuid in sorted(model['pool_volumes'].get(pool_name, ())):
                mapped.add(vol_uuid)
                etree.SubElement(pool_el, 'Volume',
                                 attrib=_volume_el(volumes[vol_uuid]))
    for vol_uuid in sorted(set(volumes) - mapped):
        etree.SubElement(root, 'Volume', attrib=_volume_el(volumes[vol_uuid]))
    return etree.tostring(root, pretty_print=True).decode('utf-8')
