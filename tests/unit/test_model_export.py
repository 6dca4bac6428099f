"""bwkit.training.model.LSTMForecaster and bwkit.serving.export: ONNX with a dynamic batch, parity that fails loudly."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from bwkit.serving import export
from bwkit.training.model import LSTMForecaster
from bwkit.runs.params import configure
from bwkit.features.windows import Scaler

WINDOW, FEATURES, TARGET_COLUMNS = 6, 5, [0, 3]
TOLERANCE = configure(stage="04_export")["parity_tolerance"]   # 04_export's default


def _model(residual=True, num_layers=1, seed=0, linear_path=True, last_to_head=True):
    torch.manual_seed(seed)
    model = LSTMForecaster(FEATURES, len(TARGET_COLUMNS), hidden_size=8, num_layers=num_layers, dropout=0.0,
                           target_columns=TARGET_COLUMNS if residual else None,
                           window_size=WINDOW if linear_path else None, last_to_head=last_to_head)
    x_scaler = Scaler(np.array([10.0, 2.0, -1.0, 5.0, 0.5]), np.array([3.0, 0.5, 2.0, 1.5, 0.1]))
    y_scaler = Scaler(np.array([10.0, 5.0]), np.array([3.0, 1.5]))
    model.set_scalers(x_scaler, y_scaler)
    return model.eval()


def _windows(batch, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal([10.0, 2.0, -1.0, 5.0, 0.5], [3.0, 0.5, 2.0, 1.5, 0.1], size=(batch, WINDOW, FEATURES))
    return x.astype(np.float32)


@pytest.mark.parametrize("num_layers,linear_path", [(1, True), (2, True), (1, False)])
def test_output_shape(num_layers, linear_path):
    model = _model(num_layers=num_layers, linear_path=linear_path)
    with torch.no_grad():
        out = model(torch.as_tensor(_windows(7)))
        assert out.shape == (7, 2) and out.dtype == torch.float32
        assert model.forward_scaled(torch.as_tensor(_windows(3))).shape == (3, 2)


def test_the_weight_count_is_the_models_for_every_shape():
    from bwkit.training.model import parameter_count

    for num_layers, linear_path, last in ((1, True, True), (2, False, False), (3, True, False)):
        built = _model(num_layers=num_layers, linear_path=linear_path, last_to_head=last)
        assert sum(p.numel() for p in built.parameters()) == parameter_count(
            FEATURES, 2, 8, num_layers=num_layers, linear_inputs=WINDOW * FEATURES if linear_path else 0,
            last_to_head=last)


def test_residual_model_starts_at_persistence_in_original_units():
    model = _model(residual=True)
    x = _windows(16)
    with torch.no_grad():
        out = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(out, x[:, -1, TARGET_COLUMNS], rtol=1e-6, atol=1e-5)
    # and once the head has learned something, it is no longer persistence
    with torch.no_grad():
        model.head[-1].bias.fill_(1.0)
        moved = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(moved - x[:, -1, TARGET_COLUMNS], np.broadcast_to([3.0, 1.5], moved.shape),
                               rtol=1e-5, atol=1e-4)


def test_the_head_reads_the_last_rows_inputs_and_a_checkpoint_from_before_loads_as_it_was(tmp_path):
    """Since `last_to_head`, the head reads the last row's standardised inputs beside the LSTM's output: a change in
    the last row alone moves the output through the head. A checkpoint saved before has no such key and loads as the
    model it was (its head reads the LSTM's output alone)."""
    from bwkit.training.model import load_checkpoint

    model, x = _model(residual=False, linear_path=False), _windows(4)
    with torch.no_grad():
        model.head[-1].weight.normal_()
        first = model.head[0].weight[:, 8:].clone()    # the columns that read the last row
        model.head[0].weight[:, 8:] = 0
        without = model(torch.as_tensor(x)).numpy()
        model.head[0].weight[:, 8:] = first
        assert not np.allclose(model(torch.as_tensor(x)).numpy(), without)
    before = _model(residual=False, linear_path=False, last_to_head=False)
    kwargs = {"n_features": FEATURES, "n_targets": len(TARGET_COLUMNS), "hidden_size": 8, "num_layers": 1,
              "dropout": 0.0, "target_columns": None, "calendar_columns": None, "window_size": None}
    torch.save({"state_dict": before.state_dict(), "model": kwargs}, tmp_path / "before.pth")
    loaded, _ = load_checkpoint(tmp_path / "before.pth")
    assert not loaded.last_to_head and loaded.head[0].in_features == 8
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(torch.as_tensor(x)).numpy(), before(torch.as_tensor(x)).numpy())


def test_the_linear_path_adds_a_linear_map_of_the_standardised_window():
    model = _model(residual=True)
    x = torch.as_tensor(_windows(5))
    with torch.no_grad():
        before = model.forward_scaled(x)
        model.linear.weight[1, 3 * FEATURES + 2] = 2.0   # the 4th row's 3rd feature, into the second target
        change = model.forward_scaled(x) - before
    scaled = (x[:, 3, 2] - model.x_mean[2]) / model.x_std[2]
    np.testing.assert_allclose(change[:, 1].numpy(), 2.0 * scaled.numpy(), rtol=1e-5, atol=1e-5)
    assert float(change[:, 0].abs().max()) == 0.0


def test_non_residual_model_starts_at_the_target_mean():
    model = _model(residual=False)
    with torch.no_grad():
        out = model(torch.as_tensor(_windows(4))).numpy()
    np.testing.assert_allclose(out, np.broadcast_to([10.0, 5.0], out.shape), rtol=1e-6)


def test_scalers_are_buffers_in_the_state_dict():
    state = _model().state_dict()
    for name in ("x_mean", "x_std", "y_mean", "y_std", "target_columns"):
        assert name in state
    np.testing.assert_allclose(state["y_std"].numpy(), [3.0, 1.5])


def _trained_like(model, seed=3):
    """Give every weight (the zero-initialised head too) a non-trivial value."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = _trained_like(_model(residual=True, num_layers=2))
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    assert export.export_onnx(model, WINDOW, FEATURES, path=path) == path
    return model, path


def test_onnx_is_one_self_contained_file(exported):
    import onnx
    _, path = exported
    assert [p.name for p in path.parent.iterdir()] == ["model.onnx"]
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].dim_value          # dynamic batch
    assert [d.dim_value for d in dims[1:]] == [WINDOW, FEATURES]


@pytest.mark.parametrize("batch", [1, 7, 256])
def test_onnxruntime_matches_torch_for_any_batch(exported, batch):
    model, path = exported
    x = _windows(batch, seed=batch)
    ours = export.onnx_session(path).run(None, {"input": x})[0]
    with torch.no_grad():
        theirs = model(torch.as_tensor(x)).numpy()
    assert ours.shape == (batch, 2) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)
    assert np.abs(theirs - x[:, -1, TARGET_COLUMNS]).max() > 1e-2   # not a trivial (persistence) model


def test_parity_passes_on_the_exported_model(exported):
    model, path = exported
    result = export.parity(model, path, _windows(64), tolerance=TOLERANCE)
    assert result["passed"] is True and result["windows"] == 64
    assert result["max_difference_in_std_units"] <= TOLERANCE


def test_parity_raises_on_impossible_tolerance(exported):
    model, path = exported
    with pytest.raises(export.ExportError):
        export.parity(model, path, _windows(8), tolerance=-1.0)


def test_parity_raises_when_the_model_changed_after_export(exported):
    model, path = exported
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.head[-1].bias.add_(0.01)
    with pytest.raises(export.ExportError, match="differs"):
        export.parity(changed, path, _windows(32), tolerance=TOLERANCE)
