"""Relating reciprocity measures to outcomes (liking, distress relief, donation): OLS with HC3 SEs and APIM."""

from reciprocity.outcomes.models import DEFAULT_PREDICTORS, apim, partner_values, relate_outcomes

__all__ = ["DEFAULT_PREDICTORS", "apim", "partner_values", "relate_outcomes"]
