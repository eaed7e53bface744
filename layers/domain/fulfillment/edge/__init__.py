"""The Lambda edges: Step Functions tasks, HTTP routes, queue consumers, logging and metrics. The only
package that imports Powertools; use cases never import it."""
