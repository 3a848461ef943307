"""The MQTT contract: the topic tree (:mod:`~contracts.mqtt.topics`) and its payloads
(:mod:`~contracts.mqtt.payloads`). Operator commands on ``cmd`` are
:mod:`contracts.commands`."""
