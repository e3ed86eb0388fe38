"""One module per figure family, each with the same faces:

- ``Params``: the family's parameters, a frozen dataclass equal to its notebook's cell tagged
  ``parameters`` (``NOTEBOOK``), built from text or a mapping by `gtlib.params.FamilyParams`;
- ``runs(params, *, store, device, progress)``: the runs behind the figure, trained where missing
  (parents first, in batches), as the family's ``Result``, a frozen dataclass with named fields
  (``Result.labelled()`` names them for the page's tables);
- ``checks(result, params)``: the paper's claims as `gtlib.claims.Claim` objects, each a `Rule` over
  the page's seeds; the module's ``UNCHECKED`` says which claims of the paper are not checked, and
  why (which claims CI asserts at the quick scale is data: ``gtlib/expected_quick.json``, see
  `gtlib.claims`);
- ``plot(result, params)``: the figure.

`FAMILIES` is the one list of them: the command line, the book's pages and the tests read it.
"""
from . import (across_tasks, controls, edge_popup_table, graphs, grokked_ticket, mask_dynamics, periodicity,
               sparsity, ticket_time, weights_and_masks)

FAMILIES = {  # name -> module, with the paper figures it shows
    "grokked_ticket": grokked_ticket,        # Figure 1
    "across_tasks": across_tasks,            # Figures 2a-e, 10, 11
    "sparsity": sparsity,                    # Figures 3a, 3b, 4b, 17
    "ticket_time": ticket_time,              # Figure 4a
    "controls": controls,                    # Figures 5a, 5b, 6, 12, 13, 14, 16
    "mask_dynamics": mask_dynamics,          # Figures 7, 15
    "periodicity": periodicity,              # Figure 8
    "graphs": graphs,                        # Figures 9, 20
    "weights_and_masks": weights_and_masks,  # Figures 18, 19
    "edge_popup_table": edge_popup_table,    # Table 1
}
