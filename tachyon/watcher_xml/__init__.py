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

"""Watcher's XML cluster model format: import into and export from Tachyon.

Import is one logical change: the whole document is parsed and validated
into records first (malformed XML, a missing or malformed attribute, an
unexpected element, a duplicate uuid, an instance in a node that is not
defined raise :class:`~tachyon.exception.InvalidModel` naming the
element), and only then written, in bulk, in one transaction. A bad file
writes nothing. Parsing never resolves entities, loads a DTD or touches
the network; documents with a DOCTYPE are refused. A document is bounded
(:class:`~tachyon.watcher_xml.common.Limits`: its size, the length of each
value, how deep it nests) and its numbers range-checked before any record
is built.

The package sits above the graph layer: :mod:`.common` holds the document
and attribute reading the kinds share; :mod:`.compute`, :mod:`.storage`
and :mod:`.baremetal` each provide

* ``parse(xml_root)``: the parsed ``<ModelRoot>`` element -> a parsed model
  (records), validated whole; raises InvalidModel naming the element;
  writes nothing;
* ``write(graph, parsed, replace=False)``: writes what ``parse`` returned
  through the graph layer (one transaction), returns its counts;
* ``export(graph)``: the graph's model as Watcher's XML text;

and this module dispatches to them by model kind.
"""

from tachyon import exception
from tachyon.watcher_xml import baremetal
from tachyon.watcher_xml import common
from tachyon.watcher_xml import compute
from tachyon.watcher_xml import storage

#: The module of each kind: parse(xml_root), write(graph, parsed,
#: replace), export(graph).
KIND_MODULES = {
    common.KIND_COMPUTE: compute,
    common.KIND_STORAGE: storage,
    common.KIND_BAREMETAL: baremetal,
}


def _kind_module(kind):
    if kind not in KIND_MODULES:
        raise exception.InvalidParameter(
            field='kind', reason='%r is not one of %s' % (
                kind, ', '.join(common.KINDS)))
    return KIND_MODULES[kind]


def parse_model(xml_text, kind=None, limits=None):
    """Parse and validate a document; returns (kind, parsed model).

    Nothing is written. ``kind`` forces the model kind instead of
    detecting it; ``limits`` (default :data:`common.DEFAULT_LIMITS`)
    bounds the document.
    """
    root = common.parse_document(xml_text, limits or common.DEFAULT_LIMITS)
    detected = common.detect_kind(root)
    if kind is None:
        kind = detected
    elif kind not in common.KINDS:
        raise exception.InvalidParameter(
            field='kind', reason='%r is not one of %s' % (
                kind, ', '.join(common.KINDS)))
    elif len(root) and kind != detected:
        raise exception.InvalidModel(
            element=common.describe(root),
            reason='a %s model was expected, the document holds a %s '
                   'model' % (kind, detected))
    return kind, _kind_module(kind).parse(root)


def write_model(graph, kind, parsed, replace=False, **staging):
    """Write what :func:`parse_model` returned.

    All of it or nothing: in one transaction, or for a replacing import
    of a compute model staged and switched to in one transaction
    (``staging``: the ``chunk`` and ``lease_ttl`` of
    :func:`tachyon.graph.compute.staging.import_rows`, compute
    models only).

    :returns: the SyncCounts of the write.
    """
    return _kind_module(kind).write(graph, parsed, replace=replace,
                                    **staging)


def import_model(graph, xml_text, kind=None, replace=False, limits=None):
    """Import a Watcher XML model into the graph; returns (kind, counts).

    The document is parsed and validated whole before anything is
    written; the model is then written whole (see :func:`write_model`).
    """
    kind, parsed = parse_model(xml_text, kind, limits)
    return kind, write_model(graph, kind, parsed, replace=replace)


def export_model(graph, kind=common.KIND_COMPUTE):
    """The graph's model of ``kind`` as Watcher's XML text."""
    return _kind_module(kind).export(graph)
