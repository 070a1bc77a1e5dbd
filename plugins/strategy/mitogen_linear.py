"""Opt-in fast profile: ANSIBLE_STRATEGY=mitogen_linear ansible-playbook site.yml ...

Mitogen (https://mitogen.networkgenomics.com/ansible_detailed.html) keeps one Python interpreter per host and runs
modules inside it, so boto3 and amazon.aws are imported once per run instead of once per task. This file only makes
its strategy loadable from this project's ansible.cfg (strategy_plugins) without a path into site-packages.
"""

import ansible_mitogen.loaders
import ansible_mitogen.strategy

Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):
    pass
