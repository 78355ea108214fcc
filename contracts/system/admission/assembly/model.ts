// Admission's stored records live in common/assembly/records.ts: the other system contracts read them.
export { Partner, Regulator, Operator, STATUS_ACTIVE, STATUS_SUSPENDED, Command, COMMAND_PENDING, COMMAND_EXECUTED } from "../../common/assembly/records";
