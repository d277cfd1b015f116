import { WS_KIND } from '../helpers/stream-kinds';
import { streamTransportCompliance } from './stream-compliance';

streamTransportCompliance(WS_KIND);
