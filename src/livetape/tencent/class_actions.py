"""CreateClass, DescribeAllClass, ModifyClass, DeleteClass on livetape's category tree.

Class ids are livetape's own. The original's top level is ``ParentId`` -1; livetape's is 0
(which is also the class of uncategorized files): ``ParentId`` -1 and 0 both create a
top-level class, and top-level classes answer ``ParentId`` -1. DeleteClass refuses a class
that holds files or classes, as the original does.
"""

from __future__ import annotations

from collections.abc import Iterator

from livetape.library.class_tree import TOP, ClassNode
from livetape.tencent import params
from livetape.tencent.context import Backends, Call, Reply, catalogued

DUPLICATE = "FailedOperation.ClassNameDuplicate"
NOT_EMPTY = "FailedOperation.ClassNotEmpty"


def _walk(nodes: list[ClassNode], level: int = 1) -> Iterator[tuple[ClassNode, int]]:
    for node in nodes:
        yield node, level
        yield from _walk(node.children, level + 1)


async def class_names(backends: Backends, app_id: str) -> dict[int, str]:
    """Every class's name by id."""
    tree = await backends.classes.tree(app_id)
    return {node.class_id: node.name for node, _ in _walk(tree.class_set)}


async def create_class(backends: Backends, call: Call, p: params.CreateClass) -> Reply:
    parent = TOP if p.ParentId in (-1, 0) else p.ParentId
    row = await catalogued(lambda: backends.classes.create(call.app_id, p.ClassName, parent),
                           conflict=DUPLICATE)
    return {"ClassId": row.class_id}


async def describe_all_class(backends: Backends, call: Call, p: params.NoParams) -> Reply:
    tree = await backends.classes.tree(call.app_id)
    return {"ClassInfoSet": [
        {"ClassId": node.class_id, "ParentId": -1 if node.parent_id == TOP else node.parent_id,
         "ClassName": node.name, "Name": node.name, "Level": level,
         "SubClassIdSet": [child.class_id for child in node.children]}
        for node, level in _walk(tree.class_set)]}


async def modify_class(backends: Backends, call: Call, p: params.ModifyClass) -> Reply:
    await catalogued(lambda: backends.classes.rename(call.app_id, p.ClassId, p.ClassName),
                     conflict=DUPLICATE)
    return {}


async def delete_class(backends: Backends, call: Call, p: params.DeleteClass) -> Reply:
    await catalogued(lambda: backends.classes.delete(call.app_id, p.ClassId,
                                                     move_to_parent=False),
                     conflict=NOT_EMPTY)
    return {}
