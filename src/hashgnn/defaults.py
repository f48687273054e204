"""Defaults shared by packages that must not import one another (index, evaluation, config, models, serve)."""

#: M of hierarchical search: twice the longest list the evaluation reports (Recall/NDCG@100). With M = 100 the
#: re-rank could only reorder HamR's top-100, so HieS's Recall@100 was HamR's by construction. The paper asks the
#: recall stage for "hundreds of candidate items" and does not give its M.
DEFAULT_CANDIDATES = 200
