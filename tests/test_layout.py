"""The package layout: stages import one way, so no module is part of an import cycle."""

import grimp


def test_no_import_cycles_between_modules():
    graph = grimp.build_graph("qa")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append((module, imported))
    assert cycles == [], f"import cycles: {cycles[:5]}"


def test_every_stage_package_says_what_it_holds():
    import importlib

    for name in ("corpus", "runtime", "index", "retrieval", "answering", "eval", "tui", "bench"):
        module = importlib.import_module(f"qa.{name}")
        assert module.__doc__ and len(module.__doc__.split()) >= 15, name
