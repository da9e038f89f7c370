"""Human sign-off against a real MLflow store: under [registry] require_approval a passing version stops
at `candidate`; approvals by distinct people move the alias stage by stage; a failed gate needs an
override; rollback needs no approval; the CLI records decisions too."""
import mlflow
import pytest
from conftest import cli, credit_workspace
from mlops_workbench import registry
from mlops_workbench.approval import AWAITING_TAG, ApprovalError, approve, decisions, reject
from mlops_workbench.core import ParameterError
from mlops_workbench.model_card import model_card
from mlops_workbench.releases import history, rollback

APPROVAL = "[registry]\nrequire_approval = true\n"


def _alias(name, alias):
    v = registry.champion_version(name, alias)
    return None if v is None else str(v.version)


def test_challenge_under_approval_stops_at_candidate_and_the_cli_signs_it_off(tmp_path, template_db):
    with credit_workspace(tmp_path, template_db, APPROVAL) as (df, lb):
        assert (_alias("credit", "candidate"), _alias("credit", "champion")) == ("1", None)  # no gate: still waits
        X, y = df.drop(columns="risk"), df["risk"]
        dec = registry.challenge(lb.run_ids["lr"], "credit", X, y, rules={"roc_auc": ">= 0.6"})
        assert dec.promoted and str(dec.version) == "2" and "waits for approval as 'credit'@candidate" in dec.reason
        assert (_alias("credit", "candidate"), _alias("credit", "champion")) == ("2", None)
        mv = mlflow.MlflowClient().get_model_version("credit", "2")
        assert mv.tags[AWAITING_TAG] == "champion"
        assert mlflow.get_run(lb.run_ids["lr"]).data.tags["mlops_workbench.awaiting_approval"] == "credit v2: champion"
        r = cli("approve", "credit", "candidate", "--by", "ana", "--note", "card read", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "credit@champion now points to version 2" in r.stdout
        assert _alias("credit", "champion") == "2"
        assert AWAITING_TAG not in mlflow.MlflowClient().get_model_version("credit", "2").tags
        h = history("credit", "champion")
        assert h["reason"].tolist() == ["approved for champion by ana"]
        r = cli("approve", "credit", "2", "--by", "", cwd=tmp_path)
        assert r.returncode == 2 and "by: '' is empty" in r.stderr
        r = cli("reject", "credit", "7", "--by", "ana", "--note", "x", cwd=tmp_path)
        assert r.returncode == 1 and "no version or alias '7'" in r.stderr


def test_two_people_two_stages_rejection_override_and_rollback(tmp_path, template_db):
    ini = APPROVAL + "approvals_required = 2\nstages = staging, champion\n"
    with credit_workspace(tmp_path, template_db, ini) as (df, lb):
        with pytest.raises(ApprovalError, match="version 1 of 'credit': its gate was never run"):
            approve("credit", 1, by="ana")
        a = approve("credit", 1, by="ana", override="baseline model, gate not applicable")
        assert (a.stage, a.approvers, a.moved) == ("staging", ["ana"], None)
        assert approve("credit", 1, by="ana", override="again").approvers == ["ana"]  # one person counts once
        assert approve("credit", 1, by="ben", override="agreed").moved == "staging"
        assert (_alias("credit", "staging"), _alias("credit", "champion")) == ("1", None)
        reject("credit", 1, by="cleo", note="wait for Q3 data")
        assert approve("credit", 1, by="ana", override="x").moved is None
        assert approve("credit", 1, by="ben", override="x").moved is None  # cleo's rejection stands
        assert approve("credit", 1, by="cleo", override="Q3 data checked").moved == "champion"
        d = decisions("credit", "champion")
        assert d["decision"].tolist().count("reject") == 1 and set(d["stage"]) == {"staging", "champion"}
        with pytest.raises(ApprovalError, match="already approved for every stage"):
            approve("credit", 1, by="dan")
        with pytest.raises(ParameterError, match="by: None is empty"):
            approve("credit", 1, by=None)
        with pytest.raises(ParameterError, match="note: ' ' is empty"):
            reject("credit", 1, by="dan", note=" ")
        registry.promote(lb.run_ids["lr"], "credit", alias="champion",
                         decision=registry.gate({"roc_auc": 0.8}, rules={"roc_auc": ">= 0.7"}, track=False))
        assert approve("credit", 2, by="ana").moved is None  # passed its gate: no override needed
        # rollback is the emergency brake: no approval, but recorded with its reason
        registry.rollback("credit", "approved by mistake", alias="staging", to=2)
        assert rollback("credit", "v2 misbehaves in staging", alias="staging") == "1"
        assert history("credit", "staging")["reason"].iloc[-1] == "v2 misbehaves in staging"
        card = dict(model_card("credit", 1, out_dir=tmp_path / "card", log=False).sections)
        assert "v2 misbehaves in staging" in card["Alias history"]["reason"].tolist()  # the rollback is on the card
        assert "baseline model, gate not applicable" in card["Approvals"]["override"].tolist()


def test_gate_failure_is_read_from_the_run(tmp_path, template_db):
    with credit_workspace(tmp_path, template_db, APPROVAL) as (df, lb):
        registry.gate({"roc_auc": 0.5}, rules={"roc_auc": ">= 0.7"}, run_id=lb.run_ids["lr"])
        with pytest.raises(ApprovalError, match="its gate failed"):
            approve("credit", 1, by="ana", note="looks fine")
        a = approve("credit", 1, by="ana", override="  accepted risk: pilot on 1% of traffic ")
        assert a.moved == "champion"
        assert decisions("credit", 1)["override"].tolist() == ["accepted risk: pilot on 1% of traffic"]
