//! Linear taskflows (IICS `WORKFLOW`): an ordered list of steps, each a run of another task.
//! Pure: the worker runs them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskflowDef {
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The task this step runs: `folder/name`, a name, or any of the task's ids.
    pub task: String,
    /// Go on to the next step when this one fails (the taskflow then completes with errors).
    #[serde(default)]
    pub continue_on_error: bool,
    /// Parameters for this step's run, over the taskflow run's own.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
}

impl TaskflowDef {
    /// Problems a definition has on its own (the tasks it names are found when it runs).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.steps.is_empty() {
            problems.push("steps: a taskflow needs at least one step".into());
        }
        for (i, s) in self.steps.iter().enumerate() {
            if s.task.trim().is_empty() {
                problems.push(format!("steps[{i}].task: must name a task"));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_required_and_name_tasks() {
        let def: TaskflowDef = serde_json::from_value(serde_json::json!({
            "steps": [{"task": "a/b"}, {"task": " ", "continue_on_error": true}]
        }))
        .unwrap();
        assert_eq!(
            def.problems(),
            vec!["steps[1].task: must name a task".to_string()]
        );
        assert!(!TaskflowDef { steps: vec![] }.problems().is_empty());
        assert!(
            serde_json::from_value::<TaskflowDef>(
                serde_json::json!({"steps": [{"task": "a", "nope": 1}]})
            )
            .is_err()
        );
    }
}
