"""Toolchain steps follow the team's answers: serving hardware (TensorRT only on NVIDIA GPUs),
model family and target (LLM steps per target), cloud (the managed endpoint and pipeline of
that cloud), large-model training; and the caveats and migrations say what works today."""

from __future__ import annotations

from typing import Any

import pytest

from app.decision.rule_set import RuleSet
from tests.conftest import base_answers
from tests.test_decision_model import answer_sets, recommend

SERVER_TARGETS = {"cloud_server", "serverless", "batch"}


def steps(rec, framework: str) -> dict[str, Any]:
    return {s.rule_id: s for s in rec.toolchain[framework]}


def answers(**changes: Any) -> dict[str, Any]:
    raw = base_answers()
    raw.update(changes)
    return raw


def server_tools(rec, framework: str) -> str:
    return " ".join(s.tool for s in rec.toolchain[framework] if s.target in SERVER_TARGETS)


# --- serving hardware ---------------------------------------------------------------


@pytest.mark.parametrize("hardware", [None, ["nvidia_gpu"], ["nvidia_gpu", "cpu"]])
def test_triton_and_tensorrt_stay_for_nvidia_or_unanswered_hardware(rule_set, hardware):
    raw = answers(deployment_targets=["cloud_server"], model_family="vision_cnn")
    if hardware:
        raw["serving_hardware"] = hardware
    rec = recommend(rule_set, raw)
    assert "TensorRT" in steps(rec, "pytorch")["pt-serving-triton"].tool
    assert "tf-serving" in steps(rec, "tensorflow")


def test_amd_serving_hardware_gets_migraphx_and_rocm_not_tensorrt(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"],
                                      serving_hardware=["amd_gpu"], model_family="vision_cnn"))
    pytorch, tensorflow = steps(rec, "pytorch"), steps(rec, "tensorflow")
    assert "pt-serving-triton" not in pytorch
    assert "TensorRT" not in server_tools(rec, "pytorch")
    assert "MIGraphX" in pytorch["pt-serving-amd"].tool and "ROCm" in pytorch["pt-serving-amd"].tool
    # No AMD-documented TF Serving build: a beta, build-it-yourself path, never "native".
    assert "tf-serving" not in tensorflow
    assert tensorflow["tf-serving-amd"].maturity == "beta"
    assert "build" in tensorflow["tf-serving-amd"].why


def test_amd_llm_serving_names_vllm_on_rocm(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"],
                                      serving_hardware=["amd_gpu"], model_family="llm"))
    assert "ROCm" in steps(rec, "pytorch")["pt-llm-serving-amd"].tool


def test_cpu_serving_gets_onnx_runtime_or_openvino_not_tensorrt(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"], serving_hardware=["cpu"],
                                      model_family="recommender"))
    pytorch = steps(rec, "pytorch")
    assert "pt-serving-triton" not in pytorch
    assert "TensorRT" not in server_tools(rec, "pytorch")
    assert all(w in pytorch["pt-serving-cpu"].tool for w in ("ONNX Runtime", "OpenVINO", "AOTInductor"))
    assert "tf-serving" in steps(rec, "tensorflow")


def test_tpu_serving_is_honest_about_maturity_and_offers_no_tensorrt(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"], cloud="gcp",
                                      serving_hardware=["google_tpu"], model_family="vision_cnn"))
    pytorch, tensorflow = steps(rec, "pytorch"), steps(rec, "tensorflow")
    assert "TensorRT" not in server_tools(rec, "pytorch")
    assert "Triton" not in server_tools(rec, "pytorch")
    assert pytorch["pt-serving-tpu"].maturity == "beta" and "JAX" in pytorch["pt-serving-tpu"].why
    assert "tf-serving" not in tensorflow and "tf-serving-tpu" in tensorflow


def test_llm_on_tpu_serving_hardware_names_vllm_tpu_as_beta(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"], model_family="llm",
                                      serving_hardware=["google_tpu"]))
    pytorch = steps(rec, "pytorch")
    step = pytorch["pt-llm-serving-tpu"]
    # tpu-inference is now vLLM JAX (JAX models); PyTorch's TPU server is vLLM-TorchTPU.
    assert step.maturity == "beta" and "vllm-torchtpu" in step.tool
    assert "tpu-inference" not in step.tool and "vLLM JAX" in step.why
    assert "pt-llm-serving" not in pytorch  # the generic GPU server would read as native on TPU


def test_no_server_step_names_tensorrt_without_nvidia_serving_hardware(rule_set: RuleSet):
    for raw in answer_sets(rule_set):
        hardware = raw.get("serving_hardware")
        if not hardware or "nvidia_gpu" in hardware:
            continue
        rec = recommend(rule_set, raw)
        for framework in ("pytorch", "tensorflow"):
            assert "TensorRT" not in server_tools(rec, framework), (raw, framework)


# --- LLM steps per target -----------------------------------------------------------


def test_every_targeted_step_serves_a_target_the_team_chose(rule_set: RuleSet):
    for raw in answer_sets(rule_set):
        rec = recommend(rule_set, raw)
        chosen = set(raw["deployment_targets"])
        for framework in ("pytorch", "tensorflow"):
            for step in rec.toolchain[framework]:
                assert step.target is None or step.target in chosen, (step.rule_id, raw)


def test_a_serverless_llm_gets_vllm_with_fast_weight_loading_not_onnx_or_aotinductor(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["serverless"], model_family="llm",
                                      cloud="gcp", uses_hub_models=True))
    pytorch = steps(rec, "pytorch")
    assert "pt-serving-serverless" not in pytorch
    tools = server_tools(rec, "pytorch")
    assert "ONNX Runtime" not in tools and "AOTInductor" not in tools
    step = pytorch["pt-llm-serving-serverless"]
    assert step.target == "serverless" and "vLLM" in step.tool and "llama.cpp" in step.tool
    assert "weight" in step.tool
    # TensorFlow's serverless path for an LLM is the `none` step, not a native LiteRT image.
    assert [(s.rule_id, s.maturity) for s in rec.toolchain["tensorflow"] if s.target] == [
        ("tf-llm-serving-serverless", "none")]


def test_an_llm_batch_team_gets_vllm_offline_and_keras_hub_in_beta(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["batch"], model_family="llm",
                                      uses_hub_models=True))
    pytorch, tensorflow = steps(rec, "pytorch"), steps(rec, "tensorflow")
    assert not {"pt-batch", "pt-llm-serving"} & set(pytorch)
    step = pytorch["pt-llm-batch"]
    assert step.target == "batch" and "LLM.generate" in step.tool and "Ray Data" in step.tool
    assert "tf-batch" not in tensorflow
    assert tensorflow["tf-llm-batch"].maturity == "beta"
    assert "KerasHub" in tensorflow["tf-llm-batch"].tool


def test_non_llm_batch_and_serverless_keep_their_compiled_paths(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["batch", "serverless"]))
    assert {"pt-batch", "pt-serving-serverless"} <= set(steps(rec, "pytorch"))
    assert {"tf-batch", "tf-serving-serverless"} <= set(steps(rec, "tensorflow"))


def test_the_tensorflow_llm_server_step_does_not_blame_tgi(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"], model_family="llm"))
    step = steps(rec, "tensorflow")["tf-llm-serving-server"]
    assert step.maturity == "none"
    text = step.tool + " " + step.why + " " + " ".join(step.sources)
    assert "TGI" not in text and "text-generation-inference" not in text
    assert "continuous batching" in step.tool and "JAX" in step.why


# --- cloud ----------------------------------------------------------------------------


def test_an_azure_team_gets_azure_ml_endpoints_and_pipelines_first(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"], cloud="azure",
                                      model_family="vision_cnn", needs_mlops_pipeline=True))
    pytorch = rec.toolchain["pytorch"]
    text = " ".join(s.tool for s in pytorch)
    assert "Azure ML managed online endpoint" in text
    assert "SageMaker" not in text and "Vertex" not in text
    pipeline = [s for s in pytorch if s.stage == "pipeline"]
    assert [s.rule_id for s in pipeline] == ["pt-pipeline-azure"]
    assert pipeline[0].tool.startswith("Azure ML pipelines")


@pytest.mark.parametrize(("cloud", "name"), [("aws", "SageMaker"), ("gcp", "Vertex AI")])
def test_each_cloud_names_its_own_managed_endpoint(rule_set, cloud, name):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"], cloud=cloud))
    managed = [s for s in rec.toolchain["pytorch"] if s.rule_id.startswith("pt-serving-managed")]
    assert [s.rule_id for s in managed] == [f"pt-serving-managed-{cloud}"]
    assert name in managed[0].tool


def test_no_managed_endpoint_on_prem(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["cloud_server"], cloud="on_prem"))
    text = " ".join(s.tool for s in rec.toolchain["pytorch"])
    assert not any(name in text for name in ("SageMaker", "Vertex", "Azure"))


# --- training -------------------------------------------------------------------------


@pytest.mark.parametrize("change", [{"fine_tunes_large_models": True},
                                    {"training_hardware": ["nvidia_gpu"], "training_scale": "multi_node"}])
def test_large_model_training_names_fsdp2_and_peft(rule_set, change):
    rec = recommend(rule_set, answers(**change))
    step = steps(rec, "pytorch")["pt-training-large"]
    assert "FSDP2" in step.tool and "PEFT" in step.tool and "TorchTitan" in step.tool


def test_small_training_gets_no_large_model_step(rule_set):
    rec = recommend(rule_set, answers(training_hardware=["nvidia_gpu"], training_scale="single_device",
                                      fine_tunes_large_models=False))
    assert "pt-training-large" not in steps(rec, "pytorch")


def test_torchtpu_is_labelled_new_with_maxtext_as_the_proven_path(rule_set):
    rec = recommend(rule_set, answers(training_hardware=["google_tpu"]))
    step = steps(rec, "pytorch")["pt-training-tpu"]
    assert "new" in step.why and "MaxText" in step.why


# --- pipelines, mobile, caveats ------------------------------------------------------------


def test_self_hosted_tfx_names_airflow_first_and_the_kfp_v2_caveat(rule_set):
    rec = recommend(rule_set, answers(needs_mlops_pipeline=True, cloud="on_prem"))
    step = steps(rec, "tensorflow")["tf-pipeline-other"]
    # TFX documents Local, Airflow, Kubeflow and Vertex AI orchestrators; on Kubeflow the v1
    # runner is deprecated and the v2 runner is documented for managed pipelines.
    assert step.tool.startswith("TFX on your own Apache Airflow") and "any Kubeflow" not in step.why
    assert "KFP v2 runner after testing" in step.tool
    assert "KubeflowDagRunner" in step.why and "KubeflowV2DagRunner" in step.why


def test_off_google_cloud_tfx_components_count_once(rule_set):
    raw = answers(needs_mlops_pipeline=True, model_family="recommender", models_in_production=40,
                  deployment_targets=["cloud_server"])
    tfx = {"mlops-pipeline-tfx", "mlops-pipeline-tfx-self-hosted",
           "many-models-standard-pipelines", "recommender-tfx-transform"}
    for cloud, points in (("gcp", 4), ("on_prem", 1), ("none", 1)):
        rec = recommend(rule_set, {**raw, "cloud": cloud})
        assert sum(r.points for r in rec.reasons if r.rule_id in tfx) == points, cloud


def test_an_ios_team_without_torchscript_gets_no_torchscript_caveat(rule_set):
    rec = recommend(rule_set, answers(team_experience="pytorch", deployment_targets=["mobile_ios"]))
    assert rec.recommended == "pytorch"
    step = steps(rec, "pytorch")["pt-ios-coreml"]
    assert step.tool.startswith("ExecuTorch Core ML delegate") and "torch.export" in step.tool
    assert "TorchScript" not in {c.tool for c in rec.caveats}


def test_an_estimator_team_is_told_estimators_are_gone(rule_set):
    stack = rule_set.questions["current_stack"]
    assert not stack.required and "tf_estimator" in stack.values
    rec = recommend(rule_set, answers(team_experience="tensorflow", current_stack=["tf_estimator"]))
    caveat = next(c for c in rec.caveats if c.tool == "TensorFlow Estimators (tf.estimator)")
    assert caveat.in_use and "2.16" in caveat.why and "Keras 3" in caveat.migration


@pytest.mark.parametrize("tool", ["Triton TensorFlow backend", "TensorFlow Serving"])
def test_tf2onnx_migrations_convert_a_savedmodel_not_the_keras_model(rule_set, tool):
    status = next(t.status for t in rule_set.tools if t.status.tool == tool)
    assert "--saved-model" in status.migration and "model.export()" in status.migration
    assert "https://github.com/onnx/tensorflow-onnx/issues/2329" in status.sources


def test_a_serverless_llm_on_aws_is_not_promised_serverless_gpus(rule_set):
    """SageMaker Serverless Inference and Lambda have no GPUs: on AWS the step is an endpoint
    scaled to zero or Bedrock Custom Model Import; elsewhere a scale-to-zero GPU container."""
    raw = answers(deployment_targets=["serverless"], model_family="llm", uses_hub_models=True)
    aws = steps(recommend(rule_set, {**raw, "cloud": "aws"}), "pytorch")
    assert "pt-llm-serving-serverless" not in aws
    step = aws["pt-llm-serving-serverless-aws"]
    assert "scaled to zero" in step.tool and "Bedrock" in step.tool
    assert "no serverless GPUs" in step.why
    for cloud in ("gcp", "azure"):
        other = steps(recommend(rule_set, {**raw, "cloud": cloud}), "pytorch")
        assert "pt-llm-serving-serverless-aws" not in other
        assert "GPU container" in other["pt-llm-serving-serverless"].tool


def test_a_serverless_diffusion_model_gets_a_gpu_container_not_a_small_cpu_runtime(rule_set):
    rec = recommend(rule_set, answers(deployment_targets=["serverless"], model_family="diffusion"))
    pytorch, tensorflow = steps(rec, "pytorch"), steps(rec, "tensorflow")
    assert "pt-serving-serverless" not in pytorch and "tf-serving-serverless" not in tensorflow
    assert "Diffusers" in pytorch["pt-diffusion-serverless"].tool
    assert pytorch["pt-diffusion-serverless"].maturity == "native"
    assert tensorflow["tf-diffusion-serverless"].maturity == "beta"
    assert "LiteRT" not in server_tools(rec, "tensorflow")


@pytest.mark.parametrize("scale", ["multi_gpu", "multi_node"])
def test_a_large_recommender_trains_with_torchrec_not_llm_recipes(rule_set, scale):
    pytorch = steps(recommend(rule_set, answers(model_family="recommender", training_scale=scale,
                                                training_hardware=["nvidia_gpu"])), "pytorch")
    assert "TorchRec" in pytorch["pt-training-recommender"].tool
    assert "pt-training-large" not in pytorch


def test_serverless_diffusion_on_aws_is_an_endpoint_scaled_to_zero(rule_set):
    aws = steps(recommend(rule_set, answers(deployment_targets=["serverless"],
                                            model_family="diffusion", cloud="aws")), "pytorch")
    assert "pt-diffusion-serverless" not in aws
    assert "scaled to zero" in aws["pt-diffusion-serverless-aws"].tool
    assert "no serverless GPUs" in aws["pt-diffusion-serverless-aws"].why


def test_tensorflow_js_users_are_told_the_converter_expects_keras_2(rule_set):
    rec = recommend(rule_set, answers(team_experience="tensorflow", deployment_targets=["web_browser"],
                                      current_stack=["tensorflow_js"]))
    caveat = next(c for c in rec.caveats if c.tool.startswith("TensorFlow.js converter"))
    assert caveat.in_use and "LiteRT.js" in caveat.migration and "Keras 3" in caveat.why
    browser = steps(rec, "tensorflow")["tf-browser"]
    assert "Keras 3" in browser.why and "https://github.com/tensorflow/tfjs/issues/8229" in browser.sources


def test_google_zoo_models_are_loaded_the_keras_3_way(rule_set):
    """hub.KerasLayer fails on Keras 3 (tensorflow/hub#903): the TensorFlow step for models
    from Google's zoos names TFSMLayer and KerasHub presets, and only for those answers."""
    raw = answers(team_experience="tensorflow", uses_hub_models=True, deployment_targets=["mobile_android"])
    for source, shown in (("google_zoos", True), ("both", True), ("hugging_face", False), (None, False)):
        changed = {**raw, "pretrained_source": source} if source else raw
        tensorflow = steps(recommend(rule_set, changed), "tensorflow")
        assert ("tf-pretrained-google-zoos" in tensorflow) is shown, source
    step = steps(recommend(rule_set, {**raw, "pretrained_source": "google_zoos"}),
                 "tensorflow")["tf-pretrained-google-zoos"]
    assert "TFSMLayer" in step.tool and "https://github.com/tensorflow/hub/issues/903" in step.sources
