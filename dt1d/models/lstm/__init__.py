"""The LSTM forecaster (torch, imported only when a model is fitted or loaded).

``LSTMModel`` (registered as ``"lstm"``) lives in ``_model``; the rest of this
package is its machinery: ``_features`` (record to input arrays), ``_windows``
(valid window ends and gap handling), ``_net`` (the torch network, training and
state dicts) and ``_infer`` (the fused CPU inference engine). The user guide
is ``docs/lstm.md``.
"""

from dt1d.models.lstm._model import LSTMModel

__all__ = ["LSTMModel"]
